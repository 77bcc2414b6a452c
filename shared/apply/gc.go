package apply

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// The garbage collector's keys. Its queue holds the uids of owners that went,
// enqueued by the caches' handlers (EnqueueGarbage), as Kubernetes' garbage
// collector processes an owner's deletion event: a deletion costs a look at its own
// dependents, not at the world. The periodic resync adds two keys: GCAll, every
// dependent of the service whose owner is gone (each term's first pass, and the
// safety net for anything no event pointed at), and GCRepair (lost pod commands).
const (
	GCAll    = "gc"
	GCRepair = "repair"

	gcOwnerPrefix = "owner/"
)

// GCKeys is the garbage collector's ListFunc: both periodic keys.
func GCKeys(context.Context) ([]string, error) { return []string{GCAll, GCRepair}, nil }

// GCOwnerKey is the key that asks the garbage collector to look at the dependents
// of the owner with this uid.
func GCOwnerKey(uid string) string { return gcOwnerPrefix + uid }

// GCScope is what a batch of the garbage collector's keys asks for.
type GCScope struct {
	// All: every dependent whose owner is gone; else the dependents of Owners.
	All    bool
	Owners []string
	Repair bool
}

// ScopeOf reads a batch of the garbage collector's keys.
func ScopeOf(keys []string) GCScope {
	var s GCScope
	for _, k := range keys {
		switch {
		case k == GCAll:
			s.All = true
		case k == GCRepair:
			s.Repair = true
		case strings.HasPrefix(k, gcOwnerPrefix):
			s.Owners = append(s.Owners, strings.TrimPrefix(k, gcOwnerPrefix))
		}
	}
	if s.All {
		s.Owners = nil
	}
	return s
}

// Collects reports whether the scope asks for any collection (not only a repair).
func (s GCScope) Collects() bool { return s.All || len(s.Owners) > 0 }

// GCBatch is the garbage collector's controller.BatchFunc: collect runs once for the
// scope of the keys waiting together, and a failure fails them all (they are retried
// alone).
func GCBatch(collect func(ctx context.Context, s GCScope) error) controller.BatchFunc {
	return func(ctx context.Context, keys []string) map[string]error {
		err := collect(ctx, ScopeOf(keys))
		if err == nil {
			return nil
		}
		failed := make(map[string]error, len(keys))
		for _, k := range keys {
			failed[k] = err
		}
		return failed
	}
}

// EnqueueDependents wakes the garbage collector for a change of an object that owns
// others in this service: gone, its dependents may be orphans now.
func EnqueueDependents[T store.Object](e watch.Event[T], enqueue func(key string)) {
	if e.Type == store.Deleted {
		enqueue(GCOwnerKey(e.Object.GetMetadata().GetUid()))
	}
}

// EnqueueIfOrphan wakes the garbage collector for a change of an object owned in this
// service: added or changed while its controller is not in the caches (ownerCached
// false), it may be an orphan (created by an owner deleted meanwhile, after the
// owner's deletion event was handled), so its controller's uid.
func EnqueueIfOrphan[T store.Object](e watch.Event[T], enqueue func(key string), ownerCached func(namespace string, ref *corev1.OwnerReference) bool) {
	m := e.Object.GetMetadata()
	if e.Type == store.Deleted {
		return
	}
	if ref := podutil.GetControllerOf(m); ref != nil && !ownerCached(m.GetNamespace(), ref) {
		enqueue(GCOwnerKey(ref.GetUid()))
	}
}

// CachedIn is an ownerCached for EnqueueGarbage: a controller of this kind is cached
// when owners holds it with its uid; a controller of another kind is not this
// function's to judge (true).
func CachedIn[O store.Object](kind string, owners interface {
	Get(namespace, name string) (O, bool)
}) func(namespace string, ref *corev1.OwnerReference) bool {
	return func(namespace string, ref *corev1.OwnerReference) bool {
		if ref.GetKind() != kind {
			return true
		}
		o, ok := owners.Get(namespace, ref.GetName())
		return ok && o.GetMetadata().GetUid() == ref.GetUid()
	}
}

// Cached combines ownerCached functions of several owner kinds: cached when every
// one says so (each judges only its own kind).
func Cached(fs ...func(namespace string, ref *corev1.OwnerReference) bool) func(namespace string, ref *corev1.OwnerReference) bool {
	return func(namespace string, ref *corev1.OwnerReference) bool {
		for _, f := range fs {
			if !f(namespace, ref) {
				return false
			}
		}
		return true
	}
}

// CollectGarbage is the Background half of the garbage collector for one kind:
// it deletes, in tx, the stored objects of kind in scope whose controller is gone
// (what a Background deletion of their owner leaves behind) and returns how many.
// Pods go through CollectPods, which asks the node service.
func CollectGarbage[T store.Object](ctx context.Context, tx pgx.Tx, now time.Time, kind store.Kind[T], s GCScope) (int, error) {
	if !s.Collects() {
		return 0, nil
	}
	orphans, err := kind.Orphans(ctx, tx, s.Owners...)
	if err != nil {
		return 0, err
	}
	var p Plan
	for _, o := range orphans {
		p.Add(Delete(kind, o))
	}
	res, err := Apply(ctx, tx, now, Owner{}, p)
	return res.Wrote, err
}

// CollectPods is CollectGarbage for the pod view.
func CollectPods(ctx context.Context, tx pgx.Tx, now time.Time, s GCScope) error {
	if !s.Collects() {
		return nil
	}
	return podview.CollectGarbage(ctx, tx, now, s.Owners...)
}

// RepairPods is the repair key's work: view.Repair over the pods as the view's cache
// holds them.
func RepairPods(ctx context.Context, tx pgx.Tx, now time.Time, view podview.View, pods *watch.Cache[*corev1.Pod]) error {
	if err := pods.Synced(ctx); err != nil {
		return err
	}
	return view.Repair(ctx, tx, now, pods.Select(store.ListOptions{}))
}
