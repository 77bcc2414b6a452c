package controller

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/services/deployment/internal/reconcile"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// podOwner is what the ReplicaSet and ReplicationController loops have in common.
type podOwner struct {
	meta        *corev1.ObjectMeta
	ref         *corev1.OwnerReference
	selector    k8slabels.Selector
	matchLabels map[string]string
	component   string
	apiVersion  string
	kind        string
	plan        func(pods []*corev1.Pod, now time.Time) reconcile.ReplicaSetPlan
	// writeStatus stores the status if it changed, and says whether it did.
	writeStatus func(ctx context.Context, tx pgx.Tx, st *deploymentv1.ReplicaSetStatus) (bool, error)
	// remove deletes the owner itself (end of a foreground deletion).
	remove func(ctx context.Context, tx pgx.Tx) error
}

// syncPodOwner is the ReplicaSet controller's syncReplicaSet on stored state: claim
// pods, plan, and in the same transaction store the new pods, the deletions, the
// commands for the node service, the status and the events. It reports whether it
// wrote anything (a change the owner's Deployment must see) and when to sync again.
func (c *Controller) syncPodOwner(ctx context.Context, tx pgx.Tx, o podOwner) (changed bool, requeue time.Duration, err error) {
	now := c.clock.Now()
	pods, err := podview.Claim(ctx, tx, o.meta, o.ref, o.selector, o.matchLabels, now)
	if err != nil {
		return false, 0, err
	}
	if o.meta.DeletionTimestamp != nil {
		// Foreground deletion: the pods go first, then the owner.
		for _, p := range pods {
			if err := podview.Delete(ctx, tx, p, now); err != nil {
				return false, 0, err
			}
		}
		if len(pods) == 0 && crud.HasFinalizer(o.meta, crud.FinalizerForeground) {
			return true, 0, o.remove(ctx, tx)
		}
		return len(pods) > 0, 0, nil
	}
	plan := o.plan(pods, now)
	for _, p := range plan.Create {
		if _, err := podview.Create(ctx, tx, p); err != nil {
			return false, 0, err
		}
	}
	for _, p := range plan.Delete {
		if err := podview.Delete(ctx, tx, p, now); err != nil {
			return false, 0, err
		}
	}
	wrote, err := o.writeStatus(ctx, tx, plan.Status)
	if err != nil {
		return false, 0, err
	}
	ref := events.Ref(o.apiVersion, o.kind, o.meta)
	for _, e := range plan.Events {
		if err := events.Record(ctx, tx, now, o.component, ref, e.GetType(), e.GetReason(), e.GetMessage()); err != nil {
			return false, 0, err
		}
	}
	return wrote || len(plan.Create) > 0 || len(plan.Delete) > 0, plan.RequeueAfter, nil
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
		if ref := podutil.GetControllerOf(rs.Metadata); ref != nil && ref.GetKind() == "Deployment" {
			deployment = ns + "/" + ref.GetName()
		}
		changed, requeue, err = c.syncPodOwner(ctx, tx, podOwner{
			meta: rs.Metadata, ref: podview.ControllerRefTo("apps/v1", "ReplicaSet", rs.Metadata), selector: sel,
			matchLabels: rs.GetSpec().GetSelector().GetMatchLabels(),
			component:   "replicaset-controller", apiVersion: "apps/v1", kind: "ReplicaSet",
			plan: func(pods []*corev1.Pod, now time.Time) reconcile.ReplicaSetPlan {
				return c.rsPlanner.PlanReplicaSet(rs, pods, nil, now)
			},
			writeStatus: func(ctx context.Context, tx pgx.Tx, st *deploymentv1.ReplicaSetStatus) (bool, error) {
				if proto.Equal(rs.Status, st) {
					return false, nil
				}
				rs.Status = st
				_, err := kinds.ReplicaSets.Update(ctx, tx, rs)
				return true, err
			},
			remove: func(ctx context.Context, tx pgx.Tx) error {
				_, err := kinds.ReplicaSets.Delete(ctx, tx, ns, name, rs.Metadata.Uid)
				return err
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
		_, requeue, err = c.syncPodOwner(ctx, tx, podOwner{
			meta: rc.Metadata, ref: podview.ControllerRefTo("v1", "ReplicationController", rc.Metadata), selector: sel,
			matchLabels: rc.GetSpec().GetSelector(),
			component:   "replication-controller", apiVersion: "v1", kind: "ReplicationController",
			plan: func(pods []*corev1.Pod, now time.Time) reconcile.ReplicaSetPlan {
				return c.rsPlanner.PlanReplicationController(rc, pods, now)
			},
			writeStatus: func(ctx context.Context, tx pgx.Tx, st *deploymentv1.ReplicaSetStatus) (bool, error) {
				if proto.Equal(rc.Status, st) {
					return false, nil
				}
				rc.Status = st
				_, err := kinds.ReplicationControllers.Update(ctx, tx, rc)
				return true, err
			},
			remove: func(ctx context.Context, tx pgx.Tx) error {
				_, err := kinds.ReplicationControllers.Delete(ctx, tx, ns, name, rc.Metadata.Uid)
				return err
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
