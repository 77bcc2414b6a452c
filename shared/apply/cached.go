package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Informer is a controller's read side (client-go's informers and the expectations of
// Kubernetes' controllers in one): its syncs read the service's watch caches, fed by
// hub, and never plan on a cache older than their own last write.
type Informer struct {
	Hub *watch.Hub
	// reads are the caches a plan reads besides the owner's: a sync waits until they
	// have loaded too (a pod cache still loading would look like no pods at all).
	reads []Loader

	mu sync.Mutex
	// last is the resourceVersion of the last write of each sync key ("Kind/ns/name")
	// not yet known to be in the caches.
	last map[string]int64
	// pruneAt is the size of last at which wrote forgets what the caches hold.
	pruneAt int
	// holds are the owners whose pod creations wait after a refusal.
	holds holds

	// term is the Done channel of the leadership term the caches were last made
	// consistent for (see newTerm).
	termMu sync.Mutex
	term   <-chan struct{}
}

// newTerm makes the first sync of a leadership term (its context: the loops run with
// the term's) wait until the caches hold every write committed before it: what the
// previous leader wrote last is not this replica's own write, and a standby's caches
// may lag (the pod view sends no notification), so without it a new leader could plan
// on a cache without the pods its predecessor just created, and create them again.
func (in *Informer) newTerm(ctx context.Context) error {
	in.termMu.Lock()
	defer in.termMu.Unlock()
	if in.term == ctx.Done() {
		return nil
	}
	if err := in.Hub.Sync(ctx); err != nil {
		return err
	}
	in.term = ctx.Done()
	return nil
}

// Loader is a cache as a sync waits for it (watch.Cache's Synced).
type Loader interface {
	Synced(ctx context.Context) error
}

// NewInformer returns the read side over hub's caches; reads are the caches the plans
// read besides the owner's, which every sync waits to have loaded.
func NewInformer(hub *watch.Hub, reads ...Loader) *Informer {
	return &Informer{Hub: hub, reads: reads, last: map[string]int64{}, pruneAt: minPrune}
}

// waitOwn waits until the caches hold the last write made for key.
func (in *Informer) waitOwn(ctx context.Context, key string) error {
	in.mu.Lock()
	rv := in.last[key]
	in.mu.Unlock()
	if rv == 0 {
		return nil
	}
	if err := in.Hub.Seen(ctx, rv); err != nil {
		return err
	}
	in.mu.Lock()
	if in.last[key] == rv {
		delete(in.last, key)
	}
	in.mu.Unlock()
	return nil
}

// wrote records key's last write. The writes the caches already hold are forgotten
// once the record has doubled since the last time (keys of deleted objects never sync
// again to clear theirs), so it holds about the writes in flight, not every key ever
// written.
func (in *Informer) wrote(key string, rv int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.last[key] = max(in.last[key], rv)
	if len(in.last) < in.pruneAt {
		return
	}
	seen := in.Hub.Position()
	for k, v := range in.last {
		if v <= seen {
			delete(in.last, k)
		}
	}
	in.pruneAt = max(minPrune, 2*len(in.last))
}

// minPrune is the size of the write record below which it is not pruned.
const minPrune = 1024

// CachedPlanFunc plans one sync of obj (a private copy) from what the caches hold.
type CachedPlanFunc[T store.Object] func(obj T, now time.Time) (Plan, error)

// SyncCached is a controller's sync of one object ("namespace/name" key), with its
// reads from the watch caches (the informer pattern): it
// waits until the caches hold the key's last write, reads the object (gone: nothing to
// do), plans on a copy, and applies the plan in one transaction, whose writes carry the
// resourceVersions read as preconditions (a stale read is a conflict: the sync fails and
// is retried on a newer cache). A plan with nothing to write costs no query.
func SyncCached[T store.Object](ctx context.Context, db *store.DB, in *Informer, now func() time.Time, cache *watch.Cache[T], kind store.Kind[T], key string, owner Owner, plan CachedPlanFunc[T]) (Plan, Result, error) {
	for _, c := range append([]Loader{cache}, in.reads...) {
		if err := c.Synced(ctx); err != nil {
			return Plan{}, Result{}, err
		}
	}
	if err := in.newTerm(ctx); err != nil {
		return Plan{}, Result{}, err
	}
	own := kind.Name + "/" + key
	if err := in.waitOwn(ctx, own); err != nil {
		return Plan{}, Result{}, err
	}
	ns, name, _ := strings.Cut(key, "/")
	cached, ok := cache.Get(ns, name)
	if !ok {
		return Plan{}, Result{}, nil
	}
	obj := proto.Clone(cached).(T)
	t := now()
	p, err := plan(obj, t)
	p = in.holdCreates(p, t)
	if err != nil || len(p.Writes) == 0 && len(p.Events) == 0 {
		return p, Result{}, err
	}
	owner.Meta = obj.GetMetadata()
	var res Result
	var rv int64
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if res, err = Apply(ctx, tx, t, owner, p); err != nil {
			return err
		}
		rv, err = store.CurrentRV(ctx, tx)
		return err
	})
	if err != nil {
		return Plan{}, Result{}, err // the controller loop retries it, rate limited
	}
	in.wrote(own, rv)
	in.Hub.Kick()
	return p, res, nil
}

// ClaimCached is Kubernetes' ControllerRefManager.Claim* for one kind, on a cache: it
// reads the objects owner controls and the orphans its selector may match from cache,
// adopts and releases as ClaimOf decides (on copies; write builds the write that stores
// an object's new ownerReferences: Update for stored objects, UpdatePod for pods, whose
// node service must hear of it), and returns the objects owner controls with those
// writes. ref is the controller reference an adopted object gets. A
// sync with claim writes applies them alone and syncs again (Plan.Again), as
// Kubernetes' controllers adopt before they plan.
//
// An adoption is written only if the owner, re-read locked in the transaction, is still
// the one read from the cache and not being deleted (recheck, built by Recheck): the
// caches are fed kind by kind, so a sync may see an owner its deletion already orphaned
// the objects of; without the recheck it would adopt them back under a controller that
// is gone, and the garbage collector would delete them (Kubernetes' controllers recheck
// with a live GET before they adopt, for the same reason).
func ClaimCached[T store.Object](cache *watch.Cache[T], recheck Write, owner *corev1.ObjectMeta, ref *corev1.OwnerReference, sel Selector, write func(T) Write) ([]T, Plan) {
	owned := cache.Select(store.ListOptions{Namespace: owner.GetNamespace(), OwnerUID: owner.GetUid()})
	orphans := cache.Select(store.ListOptions{Namespace: owner.GetNamespace(), Unowned: true, Labels: sel.MatchLabels})
	var claimed []T
	var p Plan
	rechecked := false
	for _, obj := range append(owned, orphans...) {
		switch claimOne(owner, ref, sel, &obj) {
		case Keep:
			claimed = append(claimed, obj)
		case Adopt:
			if !rechecked {
				p.Add(recheck)
				rechecked = true
			}
			p.Add(write(obj))
			claimed = append(claimed, obj)
		case Release:
			p.Add(write(obj))
		}
	}
	if len(p.Writes) > 0 {
		p.Again = true
	}
	return claimed, p
}

// ErrOwnerChanged fails an adoption whose owner is gone, replaced or being deleted.
var ErrOwnerChanged = errors.New("owner changed since it was read")

// Recheck is the write that guards an adoption (see ClaimCached): it locks the owner
// (stored as kind) until the transaction ends and fails with ErrOwnerChanged unless it
// is still the object with owner's uid and is not being deleted.
func Recheck[O store.Object](kind store.Kind[O], owner *corev1.ObjectMeta) Write {
	ns, name, uid := owner.GetNamespace(), owner.GetName(), owner.GetUid()
	return Write{what: "recheck " + kind.Name + " " + nameOf(ns, name) + " before adopting", do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		cur, err := kind.GetForUpdate(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: gone", ErrOwnerChanged)
		}
		if err != nil {
			return err
		}
		if m := cur.GetMetadata(); m.GetUid() != uid || m.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%w: uid %s (wanted %s), deleting %v", ErrOwnerChanged, m.GetUid(), uid, m.GetDeletionTimestamp() != nil)
		}
		return nil
	}}
}
