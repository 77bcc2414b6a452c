package controller

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/services/daemonset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

const component = "daemonset-controller"

// syncDaemonSet is the daemonset controller's syncDaemonSet: read the DaemonSet, its
// pods and revisions and the nodes from the caches, claim, plan, apply.
func (c *Controller) syncDaemonSet(ctx context.Context, key string) error {
	var decided reconcile.Plan
	var uid string
	var at time.Time
	plan, res, err := apply.SyncCached(ctx, c.db, c.in, c.clock.Now, c.caches.DaemonSets, kinds.DaemonSets, key,
		apply.Owner{APIVersion: "apps/v1", Kind: "DaemonSet", Component: component},
		func(ds *daemonsetv1.DaemonSet, now time.Time) (plan apply.Plan, err error) {
			uid, at = ds.Metadata.Uid, now
			plan, decided = c.planDaemonSet(ds, now)
			return plan, nil
		})
	if err != nil {
		return err
	}
	if res.Collision || plan.Again {
		c.daemonSets.Enqueue(key)
		return nil
	}
	// The failed pods the plan deleted: their nodes' back-off grows.
	for _, node := range decided.FailedOn {
		c.backoff.next(uid+"/"+node, at)
	}
	if len(decided.Create) > 0 || len(decided.Delete) > 0 {
		c.daemonSets.Enqueue(key)
	}
	if plan.Requeue > 0 {
		c.daemonSets.EnqueueAfter(key, plan.Requeue)
	}
	return nil
}

// planDaemonSet plans from the caches: a Foreground deletion step when ds is being
// deleted; else the adoption and release of pods and revisions when its selector
// calls for them (alone: the next sync plans on them); else its history (a new or
// renumbered revision is the plan's first write) and PlanSync over the nodes;
// decided is PlanSync's plan.
func (c *Controller) planDaemonSet(ds *daemonsetv1.DaemonSet, now time.Time) (plan apply.Plan, decided reconcile.Plan) {
	m := ds.Metadata
	if reconcile.SelectsAll(ds) {
		return daemonSetWrites(ds, reconcile.HistoryPlan{}, reconcile.PlanSelectingAll(), nil), reconcile.Plan{}
	}
	if m.DeletionTimestamp != nil {
		pods := c.caches.Pods.Select(store.ListOptions{Namespace: m.Namespace, OwnerUID: m.Uid})
		return apply.Foreground(kinds.DaemonSets, ds, pods, apply.DeletePod), reconcile.Plan{}
	}
	s, err := labels.FromProto(ds.GetSpec().GetSelector())
	if err != nil {
		return apply.Plan{}, reconcile.Plan{} // rejected by the API; nothing to do
	}
	sel := apply.Selector{Matches: s, MatchLabels: ds.GetSpec().GetSelector().GetMatchLabels()}
	ref := podview.ControllerRefTo("apps/v1", "DaemonSet", m)
	pods, claims := apply.ClaimCached(c.caches.Pods, apply.Recheck(kinds.DaemonSets, m), m, ref, sel, apply.UpdatePod)
	revs, revClaims := apply.ClaimCached(c.caches.Revisions, apply.Recheck(kinds.DaemonSets, m), m, ref, sel,
		func(cr *revisions.Revision) apply.Write {
			return apply.Update(kinds.ControllerRevisions, cr)
		})
	if claims.Again || revClaims.Again {
		claims.Add(revClaims.Writes...)
		claims.Again = true
		return claims, reconcile.Plan{}
	}
	nodes := c.caches.Nodes.Select(store.ListOptions{})
	hp := reconcile.PlanHistory(ds, revs)
	p := reconcile.PlanSyncWithBackoff(ds, nodes, pods, hp.Hash, now, func(node string, now time.Time) time.Duration {
		return c.backoff.remaining(m.Uid+"/"+node, now)
	})
	return daemonSetWrites(ds, hp, p, pods), p
}

// daemonSetWrites is a sync's plan as writes: the history first (a new revision,
// its name taken a hash collision, or the renumbered current one), the pods, the
// status, and the history beyond revisionHistoryLimit.
func daemonSetWrites(ds *daemonsetv1.DaemonSet, hp reconcile.HistoryPlan, p reconcile.Plan, pods []*corev1.Pod) apply.Plan {
	out := apply.Plan{Requeue: p.RequeueAfter}
	out.Add(hp.Writes(apply.CountCollision(kinds.DaemonSets, ds))...)
	for _, pod := range p.Create {
		out.Add(apply.CreatePod(pod))
	}
	for _, pod := range p.Delete {
		out.Add(apply.DeletePod(pod))
	}
	if p.Status != nil && !proto.Equal(ds.Status, p.Status) {
		ds = proto.Clone(ds).(*daemonsetv1.DaemonSet) // a collision counts on the stored status
		ds.Status = p.Status
		out.Add(apply.Update(kinds.DaemonSets, ds))
	}
	out.Add(revisions.Deletes(reconcile.HistoryToDelete(ds, hp.Old, pods))...)
	for _, e := range p.Events {
		out.Event(e.Type, e.Reason, e.Message)
	}
	return out
}

// collectGarbage deletes what a Background deletion left behind, in the scope of
// the keys waiting together: revisions and pods whose DaemonSet is gone. A repair
// key also repairs the pod view (lost commands, old tombstones).
func (c *Controller) collectGarbage(ctx context.Context, s apply.GCScope) error {
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		now := c.clock.Now()
		if s.Repair {
			if err := apply.RepairPods(ctx, tx, now, view, c.caches.Pods); err != nil {
				return err
			}
		}
		if _, err := apply.CollectGarbage(ctx, tx, now, kinds.ControllerRevisions, s); err != nil {
			return err
		}
		if err := apply.CollectPods(ctx, tx, now, s); err != nil {
			return err
		}
		c.backoff.gc(now)
		return nil
	})
}
