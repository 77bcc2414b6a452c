package apply

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// TestEnqueueOwners: the owners Kubernetes' pod (and revision) handlers wake for each
// kind of change.
func TestEnqueueOwners(t *testing.T) {
	pod := func(owner string, labels map[string]string) *corev1.Pod {
		m := &corev1.ObjectMeta{Namespace: "ns", Name: "p", Labels: labels}
		if owner != "" {
			m.OwnerReferences = []*corev1.OwnerReference{{Kind: "StatefulSet", Name: owner, Uid: "uid-" + owner, Controller: proto.Bool(true)}}
		}
		return &corev1.Pod{Metadata: m}
	}
	web, db := map[string]string{"app": "web"}, map[string]string{"app": "db"}
	cases := map[string]struct {
		typ       string
		prev, cur *corev1.Pod
		want      string
	}{
		"added with a controller":     {typ: store.Added, cur: pod("a", web), want: "[ns/a]"},
		"controller of another kind":  {typ: store.Added, cur: &corev1.Pod{Metadata: &corev1.ObjectMeta{Namespace: "ns", OwnerReferences: []*corev1.OwnerReference{{Kind: "Job", Name: "j", Uid: "j", Controller: proto.Bool(true)}}}}, want: "[]"},
		"modified":                    {typ: store.Modified, prev: pod("a", web), cur: pod("a", web), want: "[ns/a]"},
		"controller changed":          {typ: store.Modified, prev: pod("a", web), cur: pod("b", web), want: "[ns/a ns/b]"},
		"released":                    {typ: store.Modified, prev: pod("a", web), cur: pod("", web), want: "[ns/a selecting(web)]"},
		"deleted":                     {typ: store.Deleted, prev: pod("a", web), cur: pod("a", web), want: "[ns/a]"},
		"orphan added":                {typ: store.Added, cur: pod("", web), want: "[selecting(web)]"},
		"orphan relabelled":           {typ: store.Modified, prev: pod("", web), cur: pod("", db), want: "[selecting(db)]"},
		"orphan with the same labels": {typ: store.Modified, prev: pod("", web), cur: pod("", web), want: "[]"},
		"orphan deleted":              {typ: store.Deleted, prev: pod("", web), cur: pod("", web), want: "[]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			e := watch.Event[*corev1.Pod]{Type: tc.typ, Object: tc.cur, Prev: tc.prev, HasPrev: tc.prev != nil}
			EnqueueOwners(e, "StatefulSet", func(k string) { got = append(got, k) }, func(p *corev1.Pod) []string {
				return []string{"selecting(" + p.Metadata.Labels["app"] + ")"}
			})
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("enqueued %v, want %s", got, tc.want)
			}
		})
	}
}
