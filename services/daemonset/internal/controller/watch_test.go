package controller

import (
	"testing"

	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// TestNodeWakes: the daemonset controller's addNode and updateNode: a node wakes a
// DaemonSet when it is added and should run its pod, or changes whether it should
// run or keep running one; a node gone wakes every DaemonSet.
func TestNodeWakes(t *testing.T) {
	ds := agent()
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	node := func(uid string, labels map[string]string, taints ...*corev1.Taint) *nodev1.Node {
		return &nodev1.Node{Metadata: &corev1.ObjectMeta{Name: "n1", Uid: uid, Labels: labels}, Spec: &nodev1.NodeSpec{Taints: taints}}
	}
	ssd, hdd := map[string]string{"disk": "ssd"}, map[string]string{"disk": "hdd"}
	noExecute := &corev1.Taint{Key: "dedicated", Value: "x", Effect: "NoExecute"}
	cases := map[string]struct {
		typ       string
		prev, cur *nodev1.Node
		want      bool
	}{
		"added, selected":                {typ: store.Added, cur: node("u1", ssd), want: true},
		"added, not selected":            {typ: store.Added, cur: node("u1", hdd), want: false},
		"relabelled into the selector":   {typ: store.Modified, prev: node("u1", hdd), cur: node("u1", ssd), want: true},
		"relabelled out of the selector": {typ: store.Modified, prev: node("u1", ssd), cur: node("u1", hdd), want: true},
		"tainted NoExecute":              {typ: store.Modified, prev: node("u1", ssd), cur: node("u1", ssd, noExecute), want: true},
		"changed, same answer":           {typ: store.Modified, prev: node("u1", ssd), cur: node("u1", map[string]string{"disk": "ssd", "zone": "a"}), want: false},
		"re-registered under a new uid":  {typ: store.Modified, prev: node("u1", hdd), cur: node("u2", ssd), want: true},
		"deleted, even if not selected":  {typ: store.Deleted, prev: node("u1", hdd), cur: node("u1", hdd), want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := watch.Event[*nodev1.Node]{Type: tc.typ, Object: tc.cur, Prev: tc.prev, HasPrev: tc.prev != nil}
			if got := nodeWakes(e, ds); got != tc.want {
				t.Fatalf("nodeWakes = %v, want %v", got, tc.want)
			}
		})
	}
}
