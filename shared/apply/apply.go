// Package apply is the write half of every controller: a sync reads, plans (a
// pure function of what it read), and hands the plan to Apply, which writes it
// in the sync's transaction. A plan carries its writes in order (objects and
// pods, fully built by the planner), the events to record about the owner and
// when to sync again.
//
// Besides Apply the package holds the two steps every controller shares before
// it plans: Claim (Kubernetes' ControllerRefManager: adopt and release by
// selector) and Foreground (the garbage collector's foreground deletion).
package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Owner is the object a sync is about: the plan's events are recorded on it.
type Owner struct {
	APIVersion, Kind string
	Meta             *corev1.ObjectMeta
	// Component is the events' source ("deployment-controller").
	Component string
}

// Event is an event to record about the owner.
type Event struct{ Type, Reason, Message string }

// Plan is what a sync writes.
type Plan struct {
	// Writes are carried out in order (claims before the pods that mount them).
	Writes []Write
	// Events are recorded on the owner after the writes, in order.
	Events []Event
	// Requeue, when positive, asks for another sync after this long.
	Requeue time.Duration
	// Again asks for another sync as soon as this one's writes are in the caches (a
	// plan that only claims: the sync plans on what it adopted next time).
	Again bool
}

// Add appends writes to the plan.
func (p *Plan) Add(w ...Write) { p.Writes = append(p.Writes, w...) }

// Event appends an event to the plan.
func (p *Plan) Event(typ, reason, message string) {
	p.Events = append(p.Events, Event{Type: typ, Reason: reason, Message: message})
}

// Result is what Apply did.
type Result struct {
	// Wrote counts the writes carried out.
	Wrote int
	// Collision is set when a Unique create found its name taken: Apply stopped
	// there (no later write, no event) after the create's onCollision write
	// (the owner counts the collision in status.collisionCount, so that its next
	// plan names the object differently). Sync again.
	Collision bool
}

// Apply carries out p in tx: its writes in order, then its events on owner.
func Apply(ctx context.Context, tx pgx.Tx, now time.Time, owner Owner, p Plan) (Result, error) {
	var res Result
	for i := 0; i < len(p.Writes); i++ {
		w := p.Writes[i]
		if w.batchable() {
			// A run of pod creations (a scale-up), or of updates of one kind (the
			// counted marks of a Job's pods), is one statement.
			run, keys := []store.Object{w.obj}, map[string]bool{name(w.obj.GetMetadata()): true}
			for i+1 < len(p.Writes) {
				next := p.Writes[i+1]
				if !next.batchable() || next.group != w.group || keys[name(next.obj.GetMetadata())] {
					break
				}
				i++
				run, keys[name(next.obj.GetMetadata())] = append(run, next.obj), true
			}
			if len(run) > 1 { // one alone is the single-row write below
				if err := w.many(ctx, tx, run); err != nil {
					return res, fmt.Errorf("%s (and %d more): %w", w.what, len(run)-1, err)
				}
				res.Wrote += len(run)
				continue
			}
		}
		err := w.do(ctx, tx, now)
		if w.same != nil && errors.Is(err, store.ErrAlreadyExists) {
			same, rerr := w.same(ctx, tx)
			if rerr != nil {
				return res, fmt.Errorf("%s: read what holds the name: %w", w.what, rerr)
			}
			if same {
				err = nil // the very object wanted is stored: done
			}
		}
		switch {
		case err == nil:
			res.Wrote++
		case w.collided != nil && errors.Is(err, store.ErrAlreadyExists):
			res.Collision = true
			if err := w.collided.do(ctx, tx, now); err != nil {
				return res, fmt.Errorf("%s: %w", w.collided.what, err)
			}
			return res, nil
		case w.ignores(err):
		default:
			return res, fmt.Errorf("%s: %w", w.what, err)
		}
	}
	if len(p.Events) == 0 {
		return res, nil
	}
	ref := events.Ref(owner.APIVersion, owner.Kind, owner.Meta)
	recs := make([]events.Rec, len(p.Events))
	for i, e := range p.Events {
		recs[i] = events.Rec{Component: owner.Component, Ref: ref, Type: e.Type, Reason: e.Reason, Message: e.Message}
	}
	if err := events.RecordMany(ctx, tx, now, recs); err != nil {
		return res, fmt.Errorf("record %d events: %w", len(recs), err)
	}
	return res, nil
}

// Write is one write of a plan: build it with Create, Update, Delete,
// MarkForeground, CreatePod, UpdatePod or DeletePod.
type Write struct {
	what   string
	do     func(ctx context.Context, tx pgx.Tx, now time.Time) error
	ignore []error
	// collided, when set, makes the write a Unique create: the write to carry
	// out instead when the name is taken.
	collided *Write
	// same, when set (CreateOrReuse), reads what holds a taken name and says
	// whether it is the object the create wanted: the create is then done.
	same func(ctx context.Context, tx pgx.Tx) (bool, error)
	// many, when set, writes a run of neighbouring writes of the same group in one
	// statement (each write's object is obj): Apply writes runs of such plain
	// writes together.
	group string
	obj   store.Object
	many  func(ctx context.Context, tx pgx.Tx, objs []store.Object) error
}

// batchable: a write with a many and no modifier, written with its neighbours.
func (w Write) batchable() bool {
	return w.many != nil && len(w.ignore) == 0 && w.collided == nil && w.same == nil
}

// manyOf is a Write's many for objects of type T.
func manyOf[T store.Object](write func(ctx context.Context, tx pgx.Tx, objs []T) error) func(context.Context, pgx.Tx, []store.Object) error {
	return func(ctx context.Context, tx pgx.Tx, objs []store.Object) error {
		ts := make([]T, len(objs))
		for i, o := range objs {
			ts[i] = o.(T)
		}
		return write(ctx, tx, ts)
	}
}

// String names the write ("create ReplicaSet default/web-6c7985744b").
func (w Write) String() string { return w.what }

// IgnoreExists makes a create whose name is taken a no-op.
func (w Write) IgnoreExists() Write {
	w.ignore = append(slices.Clip(w.ignore), store.ErrAlreadyExists)
	return w
}

// IgnoreNotFound makes an update of an object that is gone a no-op.
func (w Write) IgnoreNotFound() Write {
	w.ignore = append(slices.Clip(w.ignore), store.ErrNotFound)
	return w
}

// SkipChanged makes a write of an object gone or changed since it was read (a
// conflict on its resourceVersion) a no-op instead of failing the plan: for writes that
// stand alone, like a scale-down's pod deletions, which Kubernetes' controllers issue
// one by one; the change wakes the owner, whose next sync plans on it. Not for a write
// whose plan counts it (a Job's finished pods).
func (w Write) SkipChanged() Write {
	w.ignore = append(slices.Clip(w.ignore), store.ErrNotFound, store.ErrConflict)
	return w
}

// ignores reports whether err is one the write makes a no-op.
func (w Write) ignores(err error) bool {
	for _, e := range w.ignore {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Unique makes a create whose name is taken a hash collision (see
// Result.Collision): Apply then carries out onCollision (CountCollision of the
// owner) instead of the rest of the plan.
func (w Write) Unique(onCollision Write) Write { w.collided = &onCollision; return w }

func name(m *corev1.ObjectMeta) string { return nameOf(m.GetNamespace(), m.GetName()) }

func nameOf(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// Create stores a new object.
func Create[T store.Object](k store.Kind[T], obj T) Write {
	return Write{what: "create " + k.Name + " " + name(obj.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		_, err := k.Create(ctx, tx, obj)
		return err
	}}
}

// CreateOrReuse is Create where a taken name holding the very object wanted
// (same says so of the stored object, read in the sync's transaction) is no
// collision: the create is done. Any other taken name is one (made Unique) or an
// error. It is Kubernetes' CreateControllerRevision and the DaemonSet's
// snapshot, which take a stored revision of the same data for the one they
// create; revisions.Plan.Writes uses it with revisions.SameRevision.
func CreateOrReuse[T store.Object](k store.Kind[T], obj T, same func(stored T) bool) Write {
	w := Create(k, obj)
	m := obj.GetMetadata()
	w.same = func(ctx context.Context, tx pgx.Tx) (bool, error) {
		stored, err := k.Get(ctx, tx, m.GetNamespace(), m.GetName())
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // taken, then gone: still not the one wanted
		}
		if err != nil {
			return false, err
		}
		return same(stored), nil
	}
	return w
}

// Update stores obj over the stored object; a resourceVersion on obj is a
// precondition (a stale one fails the sync, which retries on fresh state).
func Update[T store.Object](k store.Kind[T], obj T) Write {
	return Write{what: "update " + k.Name + " " + name(obj.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		_, err := k.Update(ctx, tx, obj)
		return err
	}, group: "update " + k.Name, obj: obj, many: manyOf(func(ctx context.Context, tx pgx.Tx, objs []T) error { return k.UpdateMany(ctx, tx, objs) })}
}

// Delete removes a stored object (already gone is fine).
func Delete[T store.Object](k store.Kind[T], obj T) Write {
	m := obj.GetMetadata()
	return Write{what: "delete " + k.Name + " " + name(m), ignore: []error{store.ErrNotFound}, do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		_, err := k.Delete(ctx, tx, m.GetNamespace(), m.GetName(), m.GetUid())
		return err
	}}
}

// Do is a write the caller carries out itself in the sync's transaction, for what the
// other constructors do not fit (the CronJob's create of a Job whose status records
// whether it was created).
func Do(what string, do func(ctx context.Context, tx pgx.Tx, now time.Time) error) Write {
	return Write{what: what, do: do}
}

// CountCollision increments owner's status.collisionCount (Deployment,
// StatefulSet, DaemonSet): the hash of its template then names its next
// ReplicaSet or ControllerRevision differently.
func CountCollision[T store.Object](k store.Kind[T], owner T) Write {
	return Write{what: "count a collision of " + k.Name + " " + name(owner.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		if err := bumpCollisionCount(owner); err != nil {
			return err
		}
		_, err := k.Update(ctx, tx, owner)
		return err
	}}
}

// bumpCollisionCount raises owner's status.collision_count (an int32,
// optional in every owner kind) by one, creating the status when it is unset.
func bumpCollisionCount(owner proto.Message) error {
	r := owner.ProtoReflect()
	sf := r.Descriptor().Fields().ByName("status")
	if sf == nil || sf.Message() == nil {
		return fmt.Errorf("%s has no status", r.Descriptor().FullName())
	}
	cf := sf.Message().Fields().ByName("collision_count")
	if cf == nil || cf.Kind() != protoreflect.Int32Kind || cf.Cardinality() == protoreflect.Repeated {
		return fmt.Errorf("%s has no int32 collision_count", sf.Message().FullName())
	}
	st := r.Mutable(sf).Message()
	st.Set(cf, protoreflect.ValueOfInt32(int32(st.Get(cf).Int())+1))
	return nil
}

// CreatePod stores a pod of the view and the pod.create command that asks the
// node service for it.
func CreatePod(p *corev1.Pod) Write {
	return Write{what: "create pod " + name(p.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		_, err := podview.Create(ctx, tx, p)
		return err
	}, group: createPodGroup, obj: p, many: manyOf(podview.CreateMany)}
}

// createPodGroup is the batch group of CreatePod writes.
const createPodGroup = "create pod"

// UpdatePod stores a pod's new ownerReferences and labels and tells the node service.
func UpdatePod(p *corev1.Pod) Write {
	return Write{what: "update pod " + name(p.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
		return podview.Update(ctx, tx, p, now)
	}}
}

// DeletePod marks a pod of the view terminating and sends the pod.delete command
// (a pod already terminating is left alone).
func DeletePod(p *corev1.Pod) Write {
	return Write{what: "delete pod " + name(p.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
		return podview.Delete(ctx, tx, p, now)
	}}
}
