package controller

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/services/deployment/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// podOwner is what the ReplicaSet and ReplicationController loops have in common.
type podOwner[T store.Object] struct {
	kind  store.Kind[T]
	obj   T
	owner apply.Owner
	sel   apply.Selector
	plan  func(pods []*corev1.Pod, now time.Time) reconcile.ReplicaSetPlan
	// setStatus sets obj's status to st; it reports whether it changed.
	setStatus func(st *deploymentv1.ReplicaSetStatus) bool
}

// syncPodOwner is the ReplicaSet controller's syncReplicaSet on stored state: a
// Foreground deletion step when the owner is being deleted, else claim pods and
// plan; then apply, in the sync's transaction. It reports whether it wrote
// anything (a change the owner's Deployment must see) and when to sync again.
func syncPodOwner[T store.Object](ctx context.Context, tx pgx.Tx, now time.Time, o podOwner[T]) (changed bool, requeue time.Duration, err error) {
	m := o.obj.GetMetadata()
	var plan apply.Plan
	if m.DeletionTimestamp != nil {
		pods, err := kinds.Pods.List(ctx, tx, store.ListOptions{Namespace: m.Namespace, OwnerUID: m.Uid})
		if err != nil {
			return false, 0, err
		}
		plan = apply.Foreground(o.kind, o.obj, pods, apply.DeletePod)
	} else {
		pods, err := apply.ClaimPods(ctx, tx, now, m, podview.ControllerRefTo(o.owner.APIVersion, o.owner.Kind, m), o.sel)
		if err != nil {
			return false, 0, err
		}
		plan = podOwnerWrites(o, o.plan(pods, now))
	}
	res, err := apply.Apply(ctx, tx, now, o.owner, plan)
	return res.Wrote > 0, plan.Requeue, err
}

// podOwnerWrites is a ReplicaSetPlan as writes: pods created, pods deleted, the
// owner's status when it changed.
func podOwnerWrites[T store.Object](o podOwner[T], p reconcile.ReplicaSetPlan) apply.Plan {
	out := apply.Plan{Requeue: p.RequeueAfter}
	for _, pod := range p.Create {
		out.Add(apply.CreatePod(pod))
	}
	for _, pod := range p.Delete {
		out.Add(apply.DeletePod(pod))
	}
	if o.setStatus(p.Status) {
		out.Add(apply.Update(o.kind, o.obj))
	}
	for _, e := range p.Events {
		out.Event(e.GetType(), e.GetReason(), e.GetMessage())
	}
	return out
}

func (c *Controller) syncReplicaSet(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	var requeue time.Duration
	var deployment string
	changed := false
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		changed = false
		rs, err := kinds.ReplicaSets.Get(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		sel, err := labels.FromProto(rs.GetSpec().GetSelector())
		if err != nil {
			return nil // invalid selectors are rejected by the API; nothing to do
		}
		if ref := reconcile.ControllerRef(rs.Metadata); ref != nil && ref.GetKind() == "Deployment" {
			deployment = ns + "/" + ref.GetName()
		}
		changed, requeue, err = syncPodOwner(ctx, tx, c.clock.Now(), podOwner[*deploymentv1.ReplicaSet]{
			kind: kinds.ReplicaSets, obj: rs,
			owner: apply.Owner{APIVersion: "apps/v1", Kind: "ReplicaSet", Meta: rs.Metadata, Component: "replicaset-controller"},
			sel:   apply.Selector{Matches: sel, MatchLabels: rs.GetSpec().GetSelector().GetMatchLabels()},
			plan: func(pods []*corev1.Pod, now time.Time) reconcile.ReplicaSetPlan {
				return c.rsPlanner.PlanReplicaSet(rs, pods, nil, now)
			},
			setStatus: func(st *deploymentv1.ReplicaSetStatus) bool {
				changed := !proto.Equal(rs.Status, st)
				rs.Status = st
				return changed
			},
		})
		return err
	})
	if err != nil {
		return err
	}
	if requeue > 0 {
		c.replicaSets.EnqueueAfter(key, requeue)
	}
	// The Deployment reads these pods and this status: wake it when they changed.
	if deployment != "" && changed {
		c.deployments.Enqueue(deployment)
	}
	return nil
}

func (c *Controller) syncReplicationController(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	var requeue time.Duration
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		rc, err := kinds.ReplicationControllers.Get(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		sel, err := labels.FromProto(labels.FromMap(rc.GetSpec().GetSelector()))
		if err != nil || len(rc.GetSpec().GetSelector()) == 0 {
			return nil
		}
		_, requeue, err = syncPodOwner(ctx, tx, c.clock.Now(), podOwner[*deploymentv1.ReplicationController]{
			kind: kinds.ReplicationControllers, obj: rc,
			owner: apply.Owner{APIVersion: "v1", Kind: "ReplicationController", Meta: rc.Metadata, Component: "replication-controller"},
			sel:   apply.Selector{Matches: sel, MatchLabels: rc.GetSpec().GetSelector()},
			plan: func(pods []*corev1.Pod, now time.Time) reconcile.ReplicaSetPlan {
				return c.rsPlanner.PlanReplicationController(rc, pods, now)
			},
			setStatus: func(st *deploymentv1.ReplicaSetStatus) bool {
				changed := !proto.Equal(rc.Status, st)
				rc.Status = st
				return changed
			},
		})
		return err
	})
	if err != nil {
		return err
	}
	if requeue > 0 {
		c.rcs.EnqueueAfter(key, requeue)
	}
	return nil
}
