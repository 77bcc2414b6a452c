package controller

import (
	"context"
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

// syncDeployment is the deployment controller's syncDeployment: read the Deployment
// and its ReplicaSets and pods from the caches, claim, plan, apply.
func (c *Controller) syncDeployment(ctx context.Context, key string) error {
	again := false // the plan writes ReplicaSets: plan again on what it wrote
	plan, res, err := apply.SyncCached(ctx, c.db, c.in, c.clock.Now, c.caches.Deployments, kinds.Deployments, key,
		apply.Owner{APIVersion: "apps/v1", Kind: "Deployment", Component: "deployment-controller"},
		func(d *deploymentv1.Deployment, now time.Time) (plan apply.Plan, err error) {
			plan, again = c.planDeployment(d, now)
			return plan, nil
		})
	if err != nil {
		return err
	}
	if res.Collision || again || plan.Again {
		c.deployments.Enqueue(key)
	}
	if plan.Requeue > 0 {
		c.deployments.EnqueueAfter(key, plan.Requeue)
	}
	return nil
}

// planDeployment plans from the caches: a Foreground deletion step when d is being
// deleted (its ReplicaSets are deleted in the foreground, so their pods go first);
// else the adoption and release of ReplicaSets when its selector calls for them (alone:
// the next sync plans on them); else Kubernetes' sync of its ReplicaSets. again
// reports whether the plan writes ReplicaSets.
func (c *Controller) planDeployment(d *deploymentv1.Deployment, now time.Time) (plan apply.Plan, again bool) {
	if d.Metadata.DeletionTimestamp != nil {
		rsList := c.caches.ReplicaSets.Select(store.ListOptions{Namespace: d.Metadata.Namespace, OwnerUID: d.Metadata.Uid})
		return apply.Foreground(kinds.Deployments, d, rsList, func(rs *deploymentv1.ReplicaSet) apply.Write {
			return apply.MarkForeground(kinds.ReplicaSets, rs)
		}), false
	}
	var rsList []*deploymentv1.ReplicaSet
	if sel, err := labels.FromProto(d.GetSpec().GetSelector()); err == nil {
		var claims apply.Plan
		rsList, claims = apply.ClaimCached(c.caches.ReplicaSets, apply.Recheck(kinds.Deployments, d.Metadata), d.Metadata, podview.ControllerRefTo("apps/v1", "Deployment", d.Metadata),
			apply.Selector{Matches: sel, MatchLabels: d.GetSpec().GetSelector().GetMatchLabels()},
			func(rs *deploymentv1.ReplicaSet) apply.Write { return apply.Update(kinds.ReplicaSets, rs) })
		if claims.Again {
			return claims, false
		}
	}
	var pods []*corev1.Pod
	for _, rs := range rsList {
		pods = append(pods, c.caches.Pods.Select(store.ListOptions{Namespace: d.Metadata.Namespace, OwnerUID: rs.Metadata.Uid})...)
	}
	p := c.dPlanner.Plan(d, rsList, pods, now)
	return deploymentWrites(d, p), p.NewReplicaSet != nil || len(p.UpdateReplicaSets) > 0 || len(p.DeleteReplicaSets) > 0
}

// deploymentWrites is a DeploymentPlan as writes: the new ReplicaSet first (its
// name taken is a hash collision), then the ReplicaSets' updates and deletions,
// then the Deployment's annotations and status.
func deploymentWrites(d *deploymentv1.Deployment, p reconcile.DeploymentPlan) apply.Plan {
	out := apply.Plan{Requeue: p.Requeue}
	if p.NewReplicaSet != nil {
		out.Add(apply.Create(kinds.ReplicaSets, p.NewReplicaSet).Unique(apply.CountCollision(kinds.Deployments, d)))
	}
	for _, rs := range p.UpdateReplicaSets {
		out.Add(apply.Update(kinds.ReplicaSets, rs))
	}
	for _, rs := range p.DeleteReplicaSets {
		out.Add(apply.Delete(kinds.ReplicaSets, rs))
	}
	if p.AnnotationsChanged || p.StatusChanged {
		d = proto.Clone(d).(*deploymentv1.Deployment) // a collision counts on the stored status
		if p.AnnotationsChanged {
			d.Metadata.Annotations = p.Annotations
		}
		if p.StatusChanged {
			d.Status = p.Status
		}
		out.Add(apply.Update(kinds.Deployments, d))
	}
	for _, e := range p.Events {
		out.Event(e.Type, e.Reason, e.Message)
	}
	return out
}

// OrphanReplicaSets releases the ReplicaSets of a Deployment deleted with
// propagationPolicy Orphan; they keep their pods. It runs in the deleting transaction.
func OrphanReplicaSets(ctx context.Context, tx pgx.Tx, owner *corev1.ObjectMeta) error {
	rsList, err := kinds.ReplicaSets.List(ctx, tx, store.ListOptions{Namespace: owner.Namespace, OwnerUID: owner.Uid, ForUpdate: true})
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

// collectGarbage deletes what a Background deletion left behind, in the scope of
// the keys waiting together: ReplicaSets whose Deployment is gone, then pods whose
// ReplicaSet or ReplicationController is gone (the ReplicaSets deleted here wake it
// again for theirs). A repair key also repairs the pod view (lost commands, old
// tombstones).
func (c *Controller) collectGarbage(ctx context.Context, s apply.GCScope) error {
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		now := c.clock.Now()
		if s.Repair {
			if err := apply.RepairPods(ctx, tx, now, view, c.caches.Pods); err != nil {
				return err
			}
		}
		if _, err := apply.CollectGarbage(ctx, tx, now, kinds.ReplicaSets, s); err != nil {
			return err
		}
		return apply.CollectPods(ctx, tx, now, s)
	})
}
