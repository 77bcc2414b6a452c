package apply

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// TestScopeOf: a batch of the garbage collector's keys, read.
func TestScopeOf(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		want string
	}{
		{nil, "{false [] false} collects=false"},
		{[]string{GCRepair}, "{false [] true} collects=false"},
		{[]string{GCOwnerKey("a"), GCOwnerKey("b")}, "{false [a b] false} collects=true"},
		{[]string{GCOwnerKey("a"), GCAll, GCRepair}, "{true [] true} collects=true"},
	} {
		s := ScopeOf(tc.keys)
		if got := fmt.Sprintf("%v collects=%v", s, s.Collects()); got != tc.want {
			t.Errorf("ScopeOf(%v) = %s, want %s", tc.keys, got, tc.want)
		}
	}
}

type ownersMap map[string]*corev1.Pod

func (m ownersMap) Get(namespace, name string) (*corev1.Pod, bool) {
	p, ok := m[namespace+"/"+name]
	return p, ok
}

// TestEnqueueGarbage: what wakes the garbage collector, and for which owner: an
// owner gone (its own uid), a dependent whose controller is not cached (the
// controller's uid); nothing else, so that a change costs no look at the world.
func TestEnqueueGarbage(t *testing.T) {
	pod := func(kind, owner, ownerUID string) *corev1.Pod {
		m := &corev1.ObjectMeta{Namespace: "ns", Name: "p", Uid: "uid-p"}
		if owner != "" {
			m.OwnerReferences = []*corev1.OwnerReference{{Kind: kind, Name: owner, Uid: ownerUID, Controller: proto.Bool(true)}}
		}
		return &corev1.Pod{Metadata: m}
	}
	cached := Cached(CachedIn[*corev1.Pod]("ReplicaSet", ownersMap{"ns/live": {Metadata: &corev1.ObjectMeta{Uid: "uid-live"}}}),
		CachedIn[*corev1.Pod]("ReplicationController", ownersMap{}))
	cases := map[string]struct {
		typ             string
		cur             *corev1.Pod
		dependents, own string
	}{
		"deleted":                        {store.Deleted, pod("", "", ""), "[owner/uid-p]", "[]"},
		"added":                          {store.Added, pod("", "", ""), "[]", "[]"},
		"dependent of a cached owner":    {store.Added, pod("ReplicaSet", "live", "uid-live"), "[]", "[]"},
		"dependent of a missing owner":   {store.Added, pod("ReplicaSet", "gone", "uid-gone"), "[]", "[owner/uid-gone]"},
		"dependent of a missing RC":      {store.Modified, pod("ReplicationController", "live", "uid-rc"), "[]", "[owner/uid-rc]"},
		"dependent of a name reused":     {store.Modified, pod("ReplicaSet", "live", "uid-old"), "[]", "[owner/uid-old]"},
		"dependent of a kind not judged": {store.Added, pod("Job", "gone", "uid-gone"), "[]", "[]"},
		"dependent deleted":              {store.Deleted, pod("ReplicaSet", "gone", "uid-gone"), "[owner/uid-p]", "[]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := watch.Event[*corev1.Pod]{Type: tc.typ, Object: tc.cur}
			var dependents, own []string
			EnqueueDependents(e, func(k string) { dependents = append(dependents, k) })
			EnqueueIfOrphan(e, func(k string) { own = append(own, k) }, cached)
			if fmt.Sprint(dependents) != tc.dependents || fmt.Sprint(own) != tc.own {
				t.Fatalf("dependents %v, orphan %v; want %s, %s", dependents, own, tc.dependents, tc.own)
			}
		})
	}
}
