package apply

import (
	"maps"

	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// EnqueueOwners is the event handlers Kubernetes' controllers register on the objects
// they control (addPod, updatePod, deletePod; the DaemonSet's addHistory ...), for a
// cache's change e and owners of kind: it enqueues ("namespace/name") the object's
// controller, and its former one when the controller changed; an orphan added, or
// whose labels or controller changed, wakes the owners selecting names (to adopt it);
// an orphan deleted wakes no one.
func EnqueueOwners[T store.Object](e watch.Event[T], kind string, enqueue func(key string), selecting func(T) []string) {
	cur := e.Object.GetMetadata()
	ref := podutil.GetControllerOf(cur)
	var old *corev1.OwnerReference
	if e.HasPrev {
		old = podutil.GetControllerOf(e.Prev.GetMetadata())
		if old != nil && old.GetUid() != ref.GetUid() && old.GetKind() == kind {
			enqueue(cur.GetNamespace() + "/" + old.GetName())
		}
	}
	switch {
	case ref != nil:
		if ref.GetKind() == kind {
			enqueue(cur.GetNamespace() + "/" + ref.GetName())
		}
	case e.Type == store.Deleted || selecting == nil:
	case !e.HasPrev || old != nil || !maps.Equal(cur.GetLabels(), e.Prev.GetMetadata().GetLabels()):
		for _, k := range selecting(e.Object) {
			enqueue(k)
		}
	}
}

// Selecting lists the keys of the owners in owners' cache, in obj's namespace, whose
// selector (selector reads it) matches obj's labels: the controllers that may adopt an
// orphan (getStatefulSetsForPod and the like; a nil or empty selector matches nothing).
func Selecting[O, T store.Object](owners *watch.Cache[O], selector func(O) *corev1.LabelSelector, obj T) []string {
	m := obj.GetMetadata()
	var keys []string
	for _, o := range owners.Select(store.ListOptions{Namespace: m.GetNamespace()}) {
		s := selector(o)
		if len(s.GetMatchLabels())+len(s.GetMatchExpressions()) == 0 || !labels.Matches(s, m.GetLabels()) {
			continue
		}
		keys = append(keys, o.GetMetadata().GetNamespace()+"/"+o.GetMetadata().GetName())
	}
	return keys
}
