package watch

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// feedPod feeds one change of p at rv.
func feedPod(c *Cache[*corev1.Pod], typ string, p *corev1.Pod, rv int64) {
	data, _ := proto.Marshal(p)
	c.feed([]store.RawChange{{RV: rv, Kind: "Pod", Namespace: p.Metadata.Namespace, Name: p.Metadata.Name, Type: typ, Data: data}}, rv)
}

func ownedPod(ns, name, owner string, labels map[string]string) *corev1.Pod {
	m := &corev1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}
	if owner != "" {
		m.OwnerReferences = []*corev1.OwnerReference{{Kind: "ReplicaSet", Name: owner, Uid: owner, Controller: proto.Bool(true)}}
	}
	return &corev1.Pod{Metadata: m}
}

func podNames(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Metadata.Namespace+"/"+p.Metadata.Name)
	}
	return fmt.Sprint(out)
}

// TestSelectFollowsChanges: the indexes by namespace and by controller follow adds,
// changes of controller and deletions, and Select filters as store's List does.
func TestSelectFollowsChanges(t *testing.T) {
	c := newTestCache(0)
	web := map[string]string{"app": "web"}
	feedPod(c, store.Added, ownedPod("a", "p1", "rs1", web), 1)
	feedPod(c, store.Added, ownedPod("a", "p2", "", web), 2)
	feedPod(c, store.Added, ownedPod("a", "p3", "", map[string]string{"app": "db"}), 3)
	feedPod(c, store.Added, ownedPod("b", "p4", "rs1", web), 4)
	feedPod(c, store.Modified, ownedPod("a", "p2", "rs2", web), 5) // adopted by rs2
	feedPod(c, store.Deleted, ownedPod("b", "p4", "rs1", web), 6)
	for _, tc := range []struct {
		opts store.ListOptions
		want string
	}{
		{store.ListOptions{}, "[a/p1 a/p2 a/p3]"},
		{store.ListOptions{Namespace: "a"}, "[a/p1 a/p2 a/p3]"},
		{store.ListOptions{Namespace: "b"}, "[]"},
		{store.ListOptions{OwnerUID: "rs1"}, "[a/p1]"},
		{store.ListOptions{Namespace: "a", OwnerUID: "rs2"}, "[a/p2]"},
		{store.ListOptions{Namespace: "a", Unowned: true}, "[a/p3]"},
		{store.ListOptions{Namespace: "a", Labels: web}, "[a/p1 a/p2]"},
		{store.ListOptions{Namespace: "a", Unowned: true, Labels: web}, "[]"},
		{store.ListOptions{Unowned: true}, "[a/p3]"},
		{store.ListOptions{Namespace: "b", Unowned: true}, "[]"},
	} {
		if got := podNames(c.Select(tc.opts)); got != tc.want {
			t.Errorf("Select(%+v) = %s, want %s", tc.opts, got, tc.want)
		}
	}
	if len(c.byOwner["rs1"]) != 1 || c.byNamespace["b"] != nil || len(c.byOwner[unownedIn("a")]) != 1 {
		t.Errorf("indexes keep what went: byOwner %v, byNamespace %v", c.byOwner, c.byNamespace)
	}
	if p, ok := c.Get("a", "p2"); !ok || p.Metadata.GetOwnerReferences()[0].GetUid() != "rs2" {
		t.Errorf("Get a/p2 = %v, %v", p, ok)
	}
	if _, ok := c.Get("b", "p4"); ok {
		t.Error("Get of a deleted pod found it")
	}
}

// TestOnChangeAfterTheCacheHoldsIt: a handler sees every change in order, with the
// object before it, and a read from the handler's goroutine finds the change.
func TestOnChangeAfterTheCacheHoldsIt(t *testing.T) {
	c := newTestCache(0)
	var got []string
	c.OnChange(func(e Event[*corev1.Pod]) {
		p, ok := c.Get(e.Object.Metadata.Namespace, e.Object.Metadata.Name)
		got = append(got, fmt.Sprintf("%s %s prev=%v held=%v", e.Type, e.Key, e.HasPrev, ok && p.Metadata.ResourceVersion == e.Object.Metadata.ResourceVersion))
	})
	feedPod(c, store.Added, ownedPod("a", "p1", "", nil), 1)
	feedPod(c, store.Modified, ownedPod("a", "p1", "rs", nil), 2)
	feedPod(c, store.Deleted, ownedPod("a", "p1", "rs", nil), 3)
	want := "[ADDED a/p1 prev=false held=true MODIFIED a/p1 prev=true held=true DELETED a/p1 prev=true held=false]"
	if fmt.Sprint(got) != want {
		t.Fatalf("handler saw %v\nwant %s", got, want)
	}
}
