package revisions

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Objects is what Create needs of a stored kind; store.Kind satisfies it.
type Objects[T store.Object] interface {
	Create(ctx context.Context, q store.Querier, obj T) (T, error)
	Get(ctx context.Context, q store.Querier, namespace, name string) (T, error)
}

var _ Objects[*Revision] = Store

// Outcome is what Create did.
type Outcome int

const (
	// Created: the object is stored.
	Created Outcome = iota + 1
	// Reused: the name was taken by the very object wanted; it is returned.
	Reused
	// Collided: the name was taken by another object (a hash collision). The
	// owner's status.collisionCount was bumped: end the sync and sync again,
	// the next name differs.
	Collided
)

// Create is the create step of an object named after its owner's template
// hash: a ControllerRevision (Kubernetes' history.CreateControllerRevision and
// the DaemonSet's snapshot) or a Deployment's ReplicaSet (getNewReplicaSet).
// When the name is taken, same (nil: never) tells whether the stored object is
// the one wanted (Reused); otherwise bump raises the owner's collision count in
// q's transaction (Collided).
func Create[T store.Object](ctx context.Context, q store.Querier, objs Objects[T], obj T, same func(stored T) bool, bump func() error) (T, Outcome, error) {
	var zero T
	created, err := objs.Create(ctx, q, obj)
	if err == nil {
		return created, Created, nil
	}
	m := obj.GetMetadata()
	if !errors.Is(err, store.ErrAlreadyExists) {
		return zero, 0, fmt.Errorf("create %s/%s: %w", m.GetNamespace(), m.GetName(), err)
	}
	if same != nil {
		stored, err := objs.Get(ctx, q, m.GetNamespace(), m.GetName())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return zero, 0, fmt.Errorf("read %s/%s: %w", m.GetNamespace(), m.GetName(), err)
		}
		if err == nil && same(stored) {
			return stored, Reused, nil
		}
	}
	if err := bump(); err != nil {
		return zero, 0, fmt.Errorf("count hash collision on %s/%s: %w", m.GetNamespace(), m.GetName(), err)
	}
	return zero, Collided, nil
}

// SameRevision tells whether stored, a revision found under want's name, is
// want: the same data, controlled by the same owner. Kubernetes compares the
// data only; the owner check keeps a revision another owner (or none) holds
// from being taken over here: adoption is the claim step's decision.
func SameRevision(stored, want *Revision) bool {
	return proto.Equal(stored.GetData(), want.GetData()) &&
		controllerUID(stored.GetMetadata()) == controllerUID(want.GetMetadata()) && controllerUID(want.GetMetadata()) != ""
}

func controllerUID(m *corev1.ObjectMeta) string {
	for _, ref := range m.GetOwnerReferences() {
		if ref.GetController() {
			return ref.GetUid()
		}
	}
	return ""
}

// Updater is what CountCollision needs of a stored kind; store.Kind satisfies it.
type Updater[T store.Object] interface {
	Update(ctx context.Context, q store.Querier, obj T) (T, error)
}

// CountCollision is the owner's half of a hash collision (Kubernetes bumps
// the count and syncs again): owner's status.collisionCount + 1, written with
// objs in q's transaction. It is the bump callback of Create and Write for a
// DaemonSet, StatefulSet or Deployment.
func CountCollision[T store.Object](ctx context.Context, q store.Querier, objs Updater[T], owner T) error {
	if err := bumpCollisionCount(owner); err != nil {
		return err
	}
	_, err := objs.Update(ctx, q, owner)
	return err
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

// Write is constructHistory's writes in q's transaction: it creates p.Create
// (Create with SameRevision; bump on a hash collision, then collided is true
// and the sync must end and run again) or stores p.Current renumbered. It
// returns the revision now current (nil when collided).
func Write(ctx context.Context, q store.Querier, p Plan, bump func() error) (current *Revision, collided bool, err error) {
	switch {
	case p.Create != nil:
		cur, outcome, err := Create(ctx, q, Store, p.Create, func(stored *Revision) bool { return SameRevision(stored, p.Create) }, bump)
		if err != nil {
			return nil, false, fmt.Errorf("controller revision: %w", err)
		}
		return cur, outcome == Collided, nil
	case p.BumpRevision:
		cur, err := Store.Update(ctx, q, p.Current)
		if err != nil {
			return nil, false, fmt.Errorf("renumber controller revision %s: %w", p.Current.GetMetadata().GetName(), err)
		}
		return cur, false, nil
	}
	return p.Current, false, nil
}

// Truncate deletes revs (cleanupHistory's deletions), ignoring any already gone.
func Truncate(ctx context.Context, q store.Querier, revs []*Revision) error {
	for _, r := range revs {
		m := r.GetMetadata()
		if _, err := Store.Delete(ctx, q, m.GetNamespace(), m.GetName(), m.GetUid()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete controller revision %s: %w", m.GetName(), err)
		}
	}
	return nil
}
