package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// syncDeployment is the deployment controller's syncDeployment on stored state: claim
// ReplicaSets, plan, and apply the plan in one transaction.
func (c *Controller) syncDeployment(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	var requeue time.Duration
	again := false
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		d, err := kinds.Deployments.Get(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := c.clock.Now()
		rsList, err := claimReplicaSets(ctx, tx, d)
		if err != nil {
			return err
		}
		if d.Metadata.DeletionTimestamp != nil {
			return c.deleteDeploymentForeground(ctx, tx, d, rsList, now)
		}
		var pods []*corev1.Pod
		for _, rs := range rsList {
			p, err := kinds.Pods.List(ctx, tx, store.ListOptions{Namespace: ns, OwnerUID: rs.Metadata.Uid})
			if err != nil {
				return err
			}
			pods = append(pods, p...)
		}
		plan := c.dPlanner.Plan(d, rsList, pods, now)
		if plan.NewReplicaSet != nil {
			// The planner handles a ReplicaSet of d's under the name (it bumps the
			// count itself), so here a taken name is always a collision: no same.
			// A hash collision is counted in status.collisionCount, so the next plan
			// names the ReplicaSet differently.
			_, outcome, err := revisions.Create(ctx, tx, kinds.ReplicaSets, plan.NewReplicaSet, nil,
				func() error { return revisions.CountCollision(ctx, tx, kinds.Deployments, d) })
			if err != nil {
				return fmt.Errorf("replica set: %w", err)
			}
			if outcome == revisions.Collided {
				again = true
				return nil
			}
		}
		for _, rs := range plan.UpdateReplicaSets {
			if _, err := kinds.ReplicaSets.Update(ctx, tx, rs); err != nil {
				return fmt.Errorf("update replica set %s: %w", rs.GetMetadata().GetName(), err)
			}
		}
		for _, rs := range plan.DeleteReplicaSets {
			if _, err := kinds.ReplicaSets.Delete(ctx, tx, ns, rs.Metadata.Name, rs.Metadata.Uid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("delete replica set %s: %w", rs.GetMetadata().GetName(), err)
			}
		}
		if plan.AnnotationsChanged || plan.StatusChanged {
			if plan.AnnotationsChanged {
				d.Metadata.Annotations = plan.Annotations
			}
			if plan.StatusChanged {
				d.Status = plan.Status
			}
			if _, err := kinds.Deployments.Update(ctx, tx, d); err != nil {
				return fmt.Errorf("update deployment status: %w", err)
			}
		}
		ref := events.Ref("apps/v1", "Deployment", d.Metadata)
		for _, e := range plan.Events {
			if err := events.Record(ctx, tx, now, "deployment-controller", ref, e.Type, e.Reason, e.Message); err != nil {
				return err
			}
		}
		requeue = plan.Requeue
		again = plan.NewReplicaSet != nil || len(plan.UpdateReplicaSets) > 0 || len(plan.DeleteReplicaSets) > 0
		return nil
	})
	if err != nil {
		return err
	}
	if again {
		c.deployments.Enqueue(key)
	}
	if requeue > 0 {
		c.deployments.EnqueueAfter(key, requeue)
	}
	return nil
}

// claimReplicaSets is Kubernetes' ClaimReplicaSets: the ReplicaSets d controls, after
// adopting orphans that match its selector and releasing owned ones that no longer do.
func claimReplicaSets(ctx context.Context, tx pgx.Tx, d *deploymentv1.Deployment) ([]*deploymentv1.ReplicaSet, error) {
	sel, err := labels.FromProto(d.GetSpec().GetSelector())
	if err != nil {
		return nil, nil
	}
	owned, err := kinds.ReplicaSets.List(ctx, tx, store.ListOptions{Namespace: d.Metadata.Namespace, OwnerUID: d.Metadata.Uid})
	if err != nil {
		return nil, err
	}
	orphans, err := kinds.ReplicaSets.List(ctx, tx, store.ListOptions{Namespace: d.Metadata.Namespace, Unowned: true,
		Labels: d.GetSpec().GetSelector().GetMatchLabels()})
	if err != nil {
		return nil, err
	}
	var out []*deploymentv1.ReplicaSet
	for _, rs := range owned {
		if sel.Matches(k8slabels.Set(rs.GetMetadata().GetLabels())) || d.Metadata.DeletionTimestamp != nil {
			out = append(out, rs)
			continue
		}
		podview.DropOwner(rs.Metadata, d.Metadata.Uid)
		if _, err := kinds.ReplicaSets.Update(ctx, tx, rs); err != nil {
			return nil, err
		}
	}
	if d.Metadata.DeletionTimestamp != nil {
		return out, nil
	}
	for _, rs := range orphans {
		if rs.Metadata.DeletionTimestamp != nil || !sel.Matches(k8slabels.Set(rs.GetMetadata().GetLabels())) {
			continue
		}
		rs.Metadata.OwnerReferences = append(rs.Metadata.OwnerReferences, podview.ControllerRefTo("apps/v1", "Deployment", d.Metadata))
		updated, err := kinds.ReplicaSets.Update(ctx, tx, rs)
		if err != nil {
			return nil, err
		}
		out = append(out, updated)
	}
	return out, nil
}

// OrphanReplicaSets releases the ReplicaSets of a Deployment deleted with
// propagationPolicy Orphan; they keep their pods. It runs in the deleting transaction.
func OrphanReplicaSets(ctx context.Context, tx pgx.Tx, owner *corev1.ObjectMeta) error {
	rsList, err := kinds.ReplicaSets.List(ctx, tx, store.ListOptions{Namespace: owner.Namespace, OwnerUID: owner.Uid})
	if err != nil {
		return err
	}
	for _, rs := range rsList {
		podview.DropOwner(rs.Metadata, owner.Uid)
		if _, err := kinds.ReplicaSets.Update(ctx, tx, rs); err != nil {
			return err
		}
	}
	return nil
}

// deleteDeploymentForeground carries out a Foreground deletion: every ReplicaSet is
// deleted in the foreground (its pods first), then the Deployment itself.
func (c *Controller) deleteDeploymentForeground(ctx context.Context, tx pgx.Tx, d *deploymentv1.Deployment, rsList []*deploymentv1.ReplicaSet, now time.Time) error {
	for _, rs := range rsList {
		if rs.Metadata.DeletionTimestamp != nil {
			continue
		}
		rs.Metadata.DeletionTimestamp = timestamppb.New(now.Truncate(time.Second))
		rs.Metadata.Finalizers = append(rs.Metadata.Finalizers, crud.FinalizerForeground)
		if _, err := kinds.ReplicaSets.Update(ctx, tx, rs); err != nil {
			return err
		}
	}
	if len(rsList) > 0 || !crud.HasFinalizer(d.Metadata, crud.FinalizerForeground) {
		return nil
	}
	_, err := kinds.Deployments.Delete(ctx, tx, d.Metadata.Namespace, d.Metadata.Name, d.Metadata.Uid)
	return err
}

const (
	// gcKey is enqueued (debounced by gcDelay) on every Deployment, ReplicaSet and
	// ReplicationController change; repairKey only by the periodic resync.
	gcKey     = "gc"
	repairKey = "repair"
	gcDelay   = 100 * time.Millisecond
)

// collectGarbage deletes what a Background deletion left behind: ReplicaSets whose
// Deployment is gone, then pods whose ReplicaSet or ReplicationController is gone.
// On repairKey it repairs the pod view instead (lost commands, old tombstones).
func (c *Controller) collectGarbage(ctx context.Context, key string) error {
	if key == repairKey {
		return c.db.InTx(ctx, func(tx pgx.Tx) error { return view.Repair(ctx, tx, c.clock.Now()) })
	}
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		now := c.clock.Now()
		rsOrphans, err := kinds.ReplicaSets.Orphans(ctx, tx)
		if err != nil {
			return err
		}
		for _, rs := range rsOrphans {
			if _, err := kinds.ReplicaSets.Delete(ctx, tx, rs.Metadata.Namespace, rs.Metadata.Name, rs.Metadata.Uid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return podview.CollectGarbage(ctx, tx, now)
	})
}
