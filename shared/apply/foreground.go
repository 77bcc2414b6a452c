package apply

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// ForegroundStep is the garbage collector's decision for an owner being deleted
// in the foreground (deletionTimestamp set, finalizer foregroundDeletion): it
// deletes every dependent not already being deleted (del lists their indexes),
// and, once no dependent is left that blocks the owner (an ownerReference to it
// with blockOwnerDeletion), the owner's finalizer is done (done). An owner
// without the finalizer is not the collector's to delete: nothing happens.
//
// It is Kubernetes' processDeletingDependentsItem: dependents keep the owner until
// they are gone, not merely until they are terminating.
func ForegroundStep(owner *corev1.ObjectMeta, dependents []*corev1.ObjectMeta) (del []int, done bool) {
	if owner.GetDeletionTimestamp() == nil || !crud.HasFinalizer(owner, crud.FinalizerForeground) {
		return nil, false
	}
	blocking := 0
	for i, d := range dependents {
		if d.GetDeletionTimestamp() == nil {
			del = append(del, i)
		}
		for _, r := range d.GetOwnerReferences() {
			if r.GetUid() == owner.GetUid() && r.GetBlockOwnerDeletion() {
				blocking++
				break
			}
		}
	}
	return del, blocking == 0
}

// Foreground is the plan of one ForegroundStep for owner (stored as ownerKind)
// and its dependents (every object that names owner in its ownerReferences):
// delete deletes one dependent (DeletePod for pods, MarkForeground for a
// dependent with dependents of its own, as the collector does); when the step
// is done the finalizer goes, and with the last finalizer the owner.
func Foreground[O, D store.Object](ownerKind store.Kind[O], owner O, dependents []D, delete func(D) Write) Plan {
	metas := make([]*corev1.ObjectMeta, len(dependents))
	for i, d := range dependents {
		metas[i] = d.GetMetadata()
	}
	del, done := ForegroundStep(owner.GetMetadata(), metas)
	var p Plan
	for _, i := range del {
		p.Add(delete(dependents[i]).SkipChanged()) // the next step sees it as it is now
	}
	if !done {
		return p
	}
	m := owner.GetMetadata()
	if len(m.GetFinalizers()) == 1 {
		p.Add(Delete(ownerKind, owner))
		return p
	}
	m.Finalizers = slices.DeleteFunc(slices.Clone(m.Finalizers), func(f string) bool { return f == crud.FinalizerForeground })
	p.Add(Update(ownerKind, owner))
	return p
}

// MarkForeground deletes obj in the foreground, as a Delete with
// propagationPolicy Foreground does: deletionTimestamp, a zero grace period and
// the foregroundDeletion finalizer; its controller then runs Foreground on it.
func MarkForeground[T store.Object](k store.Kind[T], obj T) Write {
	return Write{what: "delete (foreground) " + k.Name + " " + name(obj.GetMetadata()), do: func(ctx context.Context, tx pgx.Tx, now time.Time) error {
		obj := proto.Clone(obj).(T) // it may be a cache's
		m := obj.GetMetadata()
		if m.DeletionTimestamp == nil {
			m.DeletionTimestamp = timestamppb.New(now.Truncate(time.Second))
			zero := int64(0)
			m.DeletionGracePeriodSeconds = &zero
		}
		if !crud.HasFinalizer(m, crud.FinalizerForeground) {
			m.Finalizers = append(m.Finalizers, crud.FinalizerForeground)
		}
		_, err := k.Update(ctx, tx, obj)
		return err
	}}
}
