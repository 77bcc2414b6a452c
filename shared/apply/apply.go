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
	"time"

	"github.com/jackc/pgx/v5"

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
	// there (no later write, no event), and the owner must count the collision
	// (status.collisionCount) so that its next plan names the object differently.
	Collision bool
}

// Apply carries out p in tx: its writes in order, then its events on owner.
func Apply(ctx context.Context, tx pgx.Tx, now time.Time, owner Owner, p Plan) (Result, error) {
	var res Result
	for _, w := range p.Writes {
		err := w.do(ctx, tx, now)
		switch {
		case err == nil:
			res.Wrote++
		case w.unique && errors.Is(err, store.ErrAlreadyExists):
			res.Collision = true
			return res, nil
		case w.ignore != nil && errors.Is(err, w.ignore):
		default:
			return res, fmt.Errorf("%s: %w", w.what, err)
		}
	}
	if len(p.Events) == 0 {
		return res, nil
	}
	ref := events.Ref(owner.APIVersion, owner.Kind, owner.Meta)
	for _, e := range p.Events {
		if err := events.Record(ctx, tx, now, owner.Component, ref, e.Type, e.Reason, e.Message); err != nil {
			return res, fmt.Errorf("record event %s: %w", e.Reason, err)
		}
	}
	return res, nil
}

// Write is one write of a plan: build it with Create, Update, Delete,
// MarkForeground, CreatePod, UpdatePod or DeletePod.
type Write struct {
	what   string
	do     func(ctx context.Context, tx pgx.Tx, now time.Time) error
	ignore error
	unique bool
}

// String names the write ("create ReplicaSet default/web-6c7985744b").
func (w Write) String() string { return w.what }

// IgnoreExists makes a create whose name is taken a no-op.
func (w Write) IgnoreExists() Write { w.ignore = store.ErrAlreadyExists; return w }

// IgnoreNotFound makes an update of an object that is gone a no-op.
func (w Write) IgnoreNotFound() Write { w.ignore = store.ErrNotFound; return w }

// Unique makes a create whose name is taken a hash collision (see Result.Collision).
func (w Write) Unique() Write { w.unique = true; return w }

func name(m *corev1.ObjectMeta) string {
	if m.GetNamespace() == "" {
		return m.GetName()
	}
	return m.GetNamespace() + "/" + m.GetName()
}

// Create stores a new object.
func Create[T store.Object](k store.Kind[T], obj T) Write {
	return Write{what: "create " + k.Name + " " + name(obj.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		_, err := k.Create(ctx, tx, obj)
		return err
	}}
}

// Update stores obj over the stored object; a resourceVersion on obj is a
// precondition (a stale one fails the sync, which retries on fresh state).
func Update[T store.Object](k store.Kind[T], obj T) Write {
	return Write{what: "update " + k.Name + " " + name(obj.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		_, err := k.Update(ctx, tx, obj)
		return err
	}}
}

// Delete removes a stored object (already gone is fine).
func Delete[T store.Object](k store.Kind[T], obj T) Write {
	m := obj.GetMetadata()
	return Write{what: "delete " + k.Name + " " + name(m), ignore: store.ErrNotFound, do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		_, err := k.Delete(ctx, tx, m.GetNamespace(), m.GetName(), m.GetUid())
		return err
	}}
}

// CreatePod stores a pod of the view and the pod.create command that asks the
// node service for it.
func CreatePod(p *corev1.Pod) Write {
	return Write{what: "create pod " + name(p.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
		_, err := podview.Create(ctx, tx, p)
		return err
	}}
}

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
