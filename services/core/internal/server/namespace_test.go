package server

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestDefaultNamespace(t *testing.T) {
	tests := map[string]struct {
		in             *corev1.Namespace
		wantFinalizers []string
		wantPhase      string
	}{
		"new":                {in: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "team"}}, wantFinalizers: []string{"kubernetes"}, wantPhase: "Active"},
		"own finalizer kept": {in: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "team"}, Spec: &corev1.NamespaceSpec{Finalizers: []string{"example.com/x"}}}, wantFinalizers: []string{"example.com/x", "kubernetes"}, wantPhase: "Active"},
		"finalized update keeps none": {in: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "team"}, Spec: &corev1.NamespaceSpec{},
			Status: &corev1.NamespaceStatus{Phase: "Terminating"}}, wantPhase: "Terminating"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			DefaultNamespace(tc.in)
			if !slices.Equal(tc.in.GetSpec().GetFinalizers(), tc.wantFinalizers) || tc.in.GetStatus().GetPhase() != tc.wantPhase {
				t.Fatalf("got finalizers %v phase %q; want %v %q", tc.in.GetSpec().GetFinalizers(), tc.in.GetStatus().GetPhase(), tc.wantFinalizers, tc.wantPhase)
			}
			if tc.in.GetMetadata().GetLabels()[LabelMetadataName] != "team" {
				t.Fatalf("label %s missing: %v", LabelMetadataName, tc.in.GetMetadata().GetLabels())
			}
		})
	}
}

func TestValidateNamespace(t *testing.T) {
	tests := map[string]struct {
		ns   *corev1.Namespace
		want string
	}{
		"ok":            {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "team-a"}}},
		"not a label":   {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "Team.A"}}, want: `metadata.name: Invalid value: "Team.A"`},
		"no name":       {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{}}, want: "metadata.name: Required value"},
		"bad finalizer": {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a"}, Spec: &corev1.NamespaceSpec{Finalizers: []string{"a b"}}}, want: "spec.finalizers[0]: Invalid value"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := ValidateNamespace(tc.ns, nil, true)
			got := errs.ToAggregate()
			switch {
			case tc.want == "" && got != nil:
				t.Fatalf("unexpected errors: %v", got)
			case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
				t.Fatalf("got %v, want %q", got, tc.want)
			}
		})
	}
}

func TestDeleteStep(t *testing.T) {
	ts := timestamppb.New(time.Unix(100, 0))
	tests := map[string]struct {
		ns   *corev1.Namespace
		want deleteStep
	}{
		"active with kubernetes finalizer": {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a"}, Spec: &corev1.NamespaceSpec{Finalizers: []string{"kubernetes"}}}, want: stepMark},
		"active without finalizers":        {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a"}}, want: stepRemove},
		"terminating, content left":        {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a", DeletionTimestamp: ts}, Spec: &corev1.NamespaceSpec{Finalizers: []string{"kubernetes"}}}, want: stepWait},
		"terminating, finalized":           {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a", DeletionTimestamp: ts}}, want: stepRemove},
		"metadata finalizer only":          {ns: &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a", Finalizers: []string{"example.com/x"}}}, want: stepMark},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := DeleteStep(tc.ns); got != tc.want {
				t.Fatalf("DeleteStep = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMarkTerminating(t *testing.T) {
	ns := &corev1.Namespace{Metadata: &corev1.ObjectMeta{Name: "a"}, Status: &corev1.NamespaceStatus{Phase: "Active"}}
	MarkTerminating(ns, time.Unix(100, 500))
	first := ns.GetMetadata().GetDeletionTimestamp().AsTime()
	MarkTerminating(ns, time.Unix(200, 0))
	if ns.GetStatus().GetPhase() != "Terminating" || !ns.GetMetadata().GetDeletionTimestamp().AsTime().Equal(first) || !first.Equal(time.Unix(100, 0)) {
		t.Fatalf("got %v", ns)
	}
}
