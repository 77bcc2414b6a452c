package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestNamespaceChange(t *testing.T) {
	tests := map[string]struct {
		payload string
		want    string
		ok      bool
	}{
		"namespace":     {payload: "Namespace//team", want: "team", ok: true},
		"namespaced":    {payload: "ConfigMap/team/settings"},
		"other cluster": {payload: "StorageClass//standard"},
		"reconnect":     {payload: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := NamespaceChange(tc.payload)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("NamespaceChange(%q) = %q, %v; want %q, %v", tc.payload, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestIsActive(t *testing.T) {
	now := timestamppb.New(time.Unix(100, 0))
	tests := map[string]struct {
		ns   *corev1.Namespace
		want bool
	}{
		"missing":     {},
		"active":      {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a"}, Status: &corev1.NamespaceStatus{Phase: "Active"}}, want: true},
		"terminating": {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a"}, Status: &corev1.NamespaceStatus{Phase: "Terminating"}}},
		"deleted":     {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a", DeletionTimestamp: now}, Status: &corev1.NamespaceStatus{Phase: "Active"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsActive(tc.ns); got != tc.want {
				t.Fatalf("IsActive = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUpdateConditions(t *testing.T) {
	t0, t1 := time.Unix(1000, 0), time.Unix(2000, 0)
	cond := func(cs []*corev1.Condition, typ string) *corev1.Condition {
		for _, c := range cs {
			if c.GetType() == typ {
				return c
			}
		}
		return nil
	}
	remaining := ContentTotals{
		Remaining:  map[string]int{"pods.": 2, "deployments.apps": 1, "secrets.": 0},
		Finalizers: map[string]int{"kubernetes.io/pvc-protection": 1},
	}
	first := UpdateConditions(nil, remaining, t0)
	if len(first) != 5 {
		t.Fatalf("want the five condition types, got %v", first)
	}
	tests := map[string]struct {
		got                     *corev1.Condition
		status, reason, message string
	}{
		"content remaining": {got: cond(first, NamespaceContentRemaining), status: "True", reason: "SomeResourcesRemain",
			message: "Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances"},
		"finalizers remaining": {got: cond(first, NamespaceFinalizersRemaining), status: "True", reason: "SomeFinalizerRemain",
			message: "Some finalizers are remaining: kubernetes.io/pvc-protection in 1 resource instances"},
		"no failure": {got: cond(first, NamespaceDeletionContentFailure), status: "False", reason: "ContentDeleted",
			message: "All content successfully deleted, may be waiting on finalization"},
		"discovered": {got: cond(first, NamespaceDeletionDiscoveryFailure), status: "False", reason: "ResourcesDiscovered",
			message: "All resources successfully discovered"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.got.GetStatus() != tc.status || tc.got.GetReason() != tc.reason || tc.got.GetMessage() != tc.message {
				t.Fatalf("got %v; want %s %s %q", tc.got, tc.status, tc.reason, tc.message)
			}
		})
	}

	// A failure, then everything gone: statuses flip and their times move; the
	// unchanged ones keep theirs.
	failed := UpdateConditions(first, ContentTotals{Remaining: map[string]int{"pods.": 1}, Errors: []string{"failed to list jobs.batch: unavailable"}}, t1)
	if c := cond(failed, NamespaceDeletionContentFailure); c.GetStatus() != "True" || c.GetReason() != "ContentDeletionFailed" ||
		c.GetMessage() != "Failed to delete all resource types, 1 remaining: failed to list jobs.batch: unavailable" || !c.GetLastTransitionTime().AsTime().Equal(t1) {
		t.Fatalf("content failure: %v", c)
	}
	if c := cond(failed, NamespaceContentRemaining); !c.GetLastTransitionTime().AsTime().Equal(t0) {
		t.Fatalf("content remaining kept True: its time must stay %v, got %v", t0, c)
	}
	done := UpdateConditions(failed, ContentTotals{}, t1)
	if c := cond(done, NamespaceContentRemaining); c.GetStatus() != "False" || c.GetReason() != "ContentRemoved" || c.GetMessage() != "All content successfully removed" {
		t.Fatalf("content removed: %v", c)
	}
	if !(ContentTotals{Remaining: map[string]int{"pods.": 0}}).Empty() || (ContentTotals{Errors: []string{"x"}}).Empty() {
		t.Fatal("Empty: zero counts are empty, errors are not")
	}
}

// fakeContent is one kind's objects in a namespace; Delete removes the named one
// (or fails with err), recording intent.
type fakeContent struct {
	items   []*corev1.ObjectMeta
	deleted []string
	listErr error
	delErr  error
	// sticky objects stay after their delete (a finalizer, a graceful pod).
	sticky bool
}

func (f *fakeContent) contentType(resource string) ContentType {
	return ContentType{Resource: resource,
		List: func(context.Context, string) ([]*corev1.ObjectMeta, error) { return f.items, f.listErr },
		Delete: func(_ context.Context, _, name string) error {
			if f.delErr != nil {
				return f.delErr
			}
			f.deleted = append(f.deleted, name)
			if !f.sticky {
				f.items = slices.DeleteFunc(f.items, func(m *corev1.ObjectMeta) bool { return m.GetName() == name })
			}
			return nil
		}}
}

func TestDeleteContent(t *testing.T) {
	now := timestamppb.New(time.Unix(100, 0))
	pods := &fakeContent{sticky: true, items: []*corev1.ObjectMeta{{Name: "a"}, {Name: "b", DeletionTimestamp: now, Finalizers: []string{"example.com/x"}}}}
	cms := &fakeContent{items: []*corev1.ObjectMeta{{Name: "c"}}}
	down := &fakeContent{listErr: errors.New("connection refused")}
	c := &Namespaces{content: []ContentType{pods.contentType("pods."), cms.contentType("configmaps."), down.contentType("jobs.batch")}}
	got := c.deleteContent(context.Background(), "shop")
	if !slices.Equal(pods.deleted, []string{"a"}) || !slices.Equal(cms.deleted, []string{"c"}) {
		t.Errorf("deleted pods %v configmaps %v; want a (b is being deleted) and c", pods.deleted, cms.deleted)
	}
	if got.Remaining["pods."] != 2 || got.Remaining["configmaps."] != 0 || got.Finalizers["example.com/x"] != 1 {
		t.Errorf("totals %+v", got)
	}
	if len(got.Errors) != 1 || !strings.Contains(got.Errors[0], "failed to list jobs.batch: connection refused") || got.Empty() {
		t.Errorf("errors %v", got.Errors)
	}
	// Everything gone, nothing failing: empty.
	c = &Namespaces{content: []ContentType{cms.contentType("configmaps.")}}
	if got := c.deleteContent(context.Background(), "shop"); !got.Empty() {
		t.Errorf("totals %+v, want empty", got)
	}
}
