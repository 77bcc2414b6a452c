package controller

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/services/deployment/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// podOwner is what the ReplicaSet and ReplicationController loops have in common.
type podOwner[T store.Object] struct {
	kind store.Kind[T]
	obj  T
	// ref is the controller reference of the pods it adopts.
	ref  *corev1.OwnerReference
	sel  apply.Selector
	plan func(pods []*corev1.Pod, now time.Time) reconcile.ReplicaSetPlan
	// setStatus sets obj's status to st; it reports whether it changed.
	setStatus func(st *deploymentv1.ReplicaSetStatus) bool
}

// planPodOwner is the ReplicaSet controller's syncReplicaSet up to its writes, from
// the caches: a Foreground deletion step when the owner is being deleted; else the
// adoption and release of pods when its selector calls for them (alone: the next sync
// plans on them); else the pods created, the pods deleted, and the owner's status
// when it changed.
func planPodOwner[T store.Object](pods *watch.Cache[*corev1.Pod], now time.Time, o podOwner[T]) apply.Plan {
	m := o.obj.GetMetadata()
	if m.DeletionTimestamp != nil {
		owned := pods.Select(store.ListOptions{Namespace: m.Namespace, OwnerUID: m.Uid})
		return apply.Foreground(o.kind, o.obj, owned, apply.DeletePod)
	}
	claimed, claims := apply.ClaimCached(pods, apply.Recheck(o.kind, m), m, o.ref, o.sel, apply.UpdatePod)
	if claims.Again {
		return claims
	}
	p := o.plan(claimed, now)
	out := apply.Plan{Requeue: p.RequeueAfter}
	for _, pod := range p.Create {
		out.Add(apply.CreatePod(pod))
	}
	for _, pod := range p.Delete {
		out.Add(apply.DeletePod(pod).SkipChanged())
	}
	if o.setStatus(p.Status) {
		out.Add(apply.Update(o.kind, o.obj))
	}
	for _, e := range p.Events {
		out.Event(e.GetType(), e.GetReason(), e.GetMessage())
	}
	return out
}

// syncReplicaSet is the ReplicaSet controller's syncReplicaSet on stored state:
// read, claim pods, plan, apply, in one transaction.
func (c *Controller) syncReplicaSet(ctx context.Context, key string) error {
	var (
		last     reconcile.ReplicaSetPlan
		reported int
	)
	plan, _, err := apply.SyncCached(ctx, c.db, c.in, c.clock.Now, c.caches.ReplicaSets, kinds.ReplicaSets, key,
		apply.Owner{APIVersion: "apps/v1", Kind: "ReplicaSet", Component: "replicaset-controller"},
		func(rs *deploymentv1.ReplicaSet, now time.Time) (apply.Plan, error) {
			sel, err := labels.FromProto(rs.GetSpec().GetSelector())
			if err != nil {
				return apply.Plan{}, nil // invalid selectors are rejected by the API; nothing to do
			}
			return planPodOwner(c.caches.Pods, now, podOwner[*deploymentv1.ReplicaSet]{
				kind: kinds.ReplicaSets, obj: rs, ref: podview.ControllerRefTo("apps/v1", "ReplicaSet", rs.Metadata),
				sel: apply.Selector{Matches: sel, MatchLabels: rs.GetSpec().GetSelector().GetMatchLabels()},
				plan: func(pods []*corev1.Pod, now time.Time) reconcile.ReplicaSetPlan {
					planner := c.refused.planner(c.rsPlanner, "ReplicaSet/"+key)
					last = planner.PlanReplicaSet(rs, pods, nil, now)
					reported = len(planner.Refused)
					return last
				},
				setStatus: func(st *deploymentv1.ReplicaSetStatus) bool {
					changed := !proto.Equal(rs.Status, st)
					rs.Status = st
					return changed
				},
			}), nil
		})
	if err != nil {
		return err
	}
	c.refused.done("ReplicaSet/"+key, reported, last.RefusalResolved)
	requeue(c.replicaSets, key, plan)
	return nil
}

// requeue asks for the next sync a plan wants.
func requeue(l *controller.Controller, key string, plan apply.Plan) {
	if plan.Again {
		l.Enqueue(key)
	}
	if plan.Requeue > 0 {
		l.EnqueueAfter(key, plan.Requeue)
	}
}

// syncReplicationController is the replication manager's sync, as syncReplicaSet.
func (c *Controller) syncReplicationController(ctx context.Context, key string) error {
	var (
		last     reconcile.ReplicaSetPlan
		reported int
	)
	plan, _, err := apply.SyncCached(ctx, c.db, c.in, c.clock.Now, c.caches.ReplicationControllers, kinds.ReplicationControllers, key,
		apply.Owner{APIVersion: "v1", Kind: "ReplicationController", Component: "replication-controller"},
		func(rc *deploymentv1.ReplicationController, now time.Time) (apply.Plan, error) {
			sel, err := labels.FromProto(labels.FromMap(rc.GetSpec().GetSelector()))
			if err != nil || len(rc.GetSpec().GetSelector()) == 0 {
				return apply.Plan{}, nil
			}
			return planPodOwner(c.caches.Pods, now, podOwner[*deploymentv1.ReplicationController]{
				kind: kinds.ReplicationControllers, obj: rc, ref: podview.ControllerRefTo("v1", "ReplicationController", rc.Metadata),
				sel: apply.Selector{Matches: sel, MatchLabels: rc.GetSpec().GetSelector()},
				plan: func(pods []*corev1.Pod, now time.Time) reconcile.ReplicaSetPlan {
					planner := c.refused.planner(c.rsPlanner, "ReplicationController/"+key)
					last = planner.PlanReplicationController(rc, pods, now)
					reported = len(planner.Refused)
					return last
				},
				setStatus: func(st *deploymentv1.ReplicaSetStatus) bool {
					changed := !proto.Equal(rc.Status, st)
					rc.Status = st
					return changed
				},
			}), nil
		})
	if err != nil {
		return err
	}
	c.refused.done("ReplicationController/"+key, reported, last.RefusalResolved)
	requeue(c.rcs, key, plan)
	return nil
}
