package reconcile

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/revisions"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

func withImage(image string) dsOpt {
	return func(ds *daemonsetv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = image }
}

func revisionOf(image string, rev int64) *revisions.Revision {
	ds := daemonSet(withImage(image))
	cr := NewRevision(ds, Hash(ds), rev)
	cr.Metadata.Annotations = map[string]string{ChangeCauseAnnotation: "image " + image}
	return cr
}

func TestPlanHistory(t *testing.T) {
	cases := map[string]struct {
		ds           *daemonsetv1.DaemonSet
		revisions    []*revisions.Revision
		wantCreate   int64 // revision number of a new revision, 0 = none
		wantCurrent  int64
		wantBump     bool
		wantOldCount int
	}{
		"first revision":            {ds: daemonSet(withImage("a:1")), wantCreate: 1},
		"template unchanged":        {ds: daemonSet(withImage("a:1")), revisions: []*revisions.Revision{revisionOf("a:1", 1)}, wantCurrent: 1},
		"template changed":          {ds: daemonSet(withImage("a:2")), revisions: []*revisions.Revision{revisionOf("a:1", 1)}, wantCreate: 2, wantOldCount: 1},
		"back to an older template": {ds: daemonSet(withImage("a:1")), revisions: []*revisions.Revision{revisionOf("a:1", 1), revisionOf("a:2", 2)}, wantCurrent: 3, wantBump: true, wantOldCount: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			hp := PlanHistory(tc.ds, tc.revisions)
			if tc.wantCreate != 0 {
				if hp.Create == nil || hp.Create.Revision != tc.wantCreate || hp.Current != nil {
					t.Fatalf("want a new revision %d, got %+v", tc.wantCreate, hp)
				}
				if !strings.HasPrefix(hp.Create.Metadata.Name, "agent-") || hp.Create.Metadata.Labels[HashLabel] != hp.Hash {
					t.Fatalf("bad new revision %v", hp.Create.Metadata)
				}
			} else if hp.Current == nil || hp.Current.Revision != tc.wantCurrent || hp.BumpRevision != tc.wantBump {
				t.Fatalf("want current %d (bump %v), got %+v", tc.wantCurrent, tc.wantBump, hp)
			}
			if len(hp.Old) != tc.wantOldCount {
				t.Fatalf("old %d, want %d", len(hp.Old), tc.wantOldCount)
			}
		})
	}
}

func TestHistoryToDelete(t *testing.T) {
	old := []*revisions.Revision{revisionOf("a:3", 3), revisionOf("a:1", 1), revisionOf("a:2", 2)}
	limit := func(n int32) dsOpt { return func(ds *daemonsetv1.DaemonSet) { ds.Spec.RevisionHistoryLimit = &n } }
	livePod := pod("p", "n1", old[1].Metadata.Labels[HashLabel], true) // a pod still runs revision 1
	cases := map[string]struct {
		ds   *daemonsetv1.DaemonSet
		pods []*corev1.Pod
		want []int64
	}{
		"under the default limit":       {ds: daemonSet(), want: nil},
		"limit 1: the two oldest":       {ds: daemonSet(limit(1)), want: []int64{1, 2}},
		"limit 0: all":                  {ds: daemonSet(limit(0)), want: []int64{1, 2, 3}},
		"a live pod keeps its revision": {ds: daemonSet(limit(1)), pods: []*corev1.Pod{livePod}, want: []int64{2, 3}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []int64
			for _, cr := range HistoryToDelete(tc.ds, old, tc.pods) {
				got = append(got, cr.Revision)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("delete revisions %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPlanRollback(t *testing.T) {
	revs := []*revisions.Revision{revisionOf("a:1", 1), revisionOf("a:2", 2), revisionOf("a:3", 3)}
	cases := map[string]struct {
		ds        *daemonsetv1.DaemonSet
		to        int64
		wantImage string
		skipped   bool
		wantErr   string
	}{
		"previous":          {ds: daemonSet(withImage("a:3")), to: 0, wantImage: "a:2"},
		"to revision 1":     {ds: daemonSet(withImage("a:3")), to: 1, wantImage: "a:1"},
		"already there":     {ds: daemonSet(withImage("a:3")), to: 3, skipped: true},
		"unknown revision":  {ds: daemonSet(withImage("a:3")), to: 9, wantErr: "unable to find specified revision 9 in history"},
		"negative revision": {ds: daemonSet(withImage("a:3")), to: -1, wantErr: "unable to find specified revision"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rb, err := PlanRollback(tc.ds, revs, tc.to)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rb.Skipped != tc.skipped {
				t.Fatalf("skipped %v (%s)", rb.Skipped, rb.Message)
			}
			if tc.skipped {
				return
			}
			if img := rb.Template.GetSpec().GetContainers()[0].GetImage(); img != tc.wantImage {
				t.Fatalf("image %s, want %s", img, tc.wantImage)
			}
			// The restored template matches its revision again.
			restored := proto.Clone(tc.ds).(*daemonsetv1.DaemonSet)
			restored.Spec.Template = rb.Template
			if hp := PlanHistory(restored, revs); hp.Create != nil {
				t.Fatalf("the restored template matches no revision")
			}
		})
	}
}

func TestNewPod(t *testing.T) {
	ds := daemonSet(withTolerations(&corev1.Toleration{Key: "x", Operator: OpExists}))
	p := NewPod(ds, "node-7", "h1")
	if !strings.HasPrefix(p.Metadata.Name, "agent-") || len(p.Metadata.Name) != len("agent-")+5 {
		t.Errorf("name %q, want agent-<5 chars>", p.Metadata.Name)
	}
	if p.Metadata.Labels[HashLabel] != "h1" || p.Metadata.Labels["app"] != "agent" {
		t.Errorf("labels %v", p.Metadata.Labels)
	}
	if n, err := TargetNodeName(p); err != nil || n != "node-7" || p.Spec.NodeName != "" {
		t.Errorf("target node %q (%v), nodeName %q", n, err, p.Spec.NodeName)
	}
	if len(p.Spec.Tolerations) != 7 {
		t.Errorf("tolerations %v", p.Spec.Tolerations)
	}
	if ref := p.Metadata.OwnerReferences[0]; ref.GetKind() != "DaemonSet" || !ref.GetController() || ref.GetUid() != "ds-uid" {
		t.Errorf("owner %v", ref)
	}
	if len(ds.Spec.Template.Spec.Tolerations) != 1 || ds.Spec.Template.Spec.Affinity != nil {
		t.Errorf("NewPod changed the template")
	}
}
