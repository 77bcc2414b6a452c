package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/services/daemonset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

const component = "daemonset-controller"

// syncDaemonSet is the daemonset controller's syncDaemonSet on stored state, in one
// transaction: history, claim pods, plan, then the new pods (with their commands),
// the deletions, the status, the events and the history clean-up.
func (c *Controller) syncDaemonSet(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	var requeue time.Duration
	again := false
	var failedOn []string
	var failedUID string
	var failedAt time.Time
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		ds, err := kinds.DaemonSets.Get(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := c.clock.Now()
		ref := events.Ref("apps/v1", "DaemonSet", ds.Metadata)
		sel, err := labels.FromProto(ds.GetSpec().GetSelector())
		if err != nil {
			return nil // rejected by the API; nothing to do
		}
		if len(ds.GetSpec().GetSelector().GetMatchLabels())+len(ds.GetSpec().GetSelector().GetMatchExpressions()) == 0 {
			return events.Record(ctx, tx, now, component, ref, events.Warning, reconcile.ReasonSelectingAll,
				"This daemon set is selecting all pods. A non-empty selector is required.")
		}
		pods, err := podview.Claim(ctx, tx, ds.Metadata, podview.ControllerRefTo("apps/v1", "DaemonSet", ds.Metadata), sel, ds.GetSpec().GetSelector().GetMatchLabels(), now)
		if err != nil {
			return err
		}
		if ds.Metadata.DeletionTimestamp != nil {
			return c.deleteForeground(ctx, tx, ds, pods, now)
		}
		owned, err := kinds.ControllerRevisions.List(ctx, tx, store.ListOptions{Namespace: ns, OwnerUID: ds.Metadata.Uid})
		if err != nil {
			return err
		}
		hp := reconcile.PlanHistory(ds, owned)
		// A hash collision with a revision of another template is counted in
		// status.collisionCount, so the next sync names the revision differently.
		_, collided, err := revisions.Write(ctx, tx, hp, func() error { return revisions.CountCollision(ctx, tx, kinds.DaemonSets, ds) })
		if err != nil || collided {
			again = collided
			return err
		}
		nodes, err := kinds.Nodes.List(ctx, tx, store.ListOptions{})
		if err != nil {
			return err
		}
		uid := ds.Metadata.Uid
		plan := reconcile.PlanSyncWithBackoff(ds, nodes, pods, hp.Hash, now, func(node string, now time.Time) time.Duration {
			return c.backoff.remaining(uid+"/"+node, now)
		})
		failedOn, failedUID, failedAt = plan.FailedOn, uid, now
		for _, node := range plan.CreateOn {
			p, err := podview.Create(ctx, tx, reconcile.NewPod(ds, node, hp.Hash))
			if err != nil {
				return err
			}
			if err := events.Record(ctx, tx, now, component, ref, events.Normal, "SuccessfulCreate", "Created pod: "+p.Metadata.Name); err != nil {
				return err
			}
		}
		for _, p := range plan.Delete {
			if err := podview.Delete(ctx, tx, p, now); err != nil {
				return err
			}
			if err := events.Record(ctx, tx, now, component, ref, events.Normal, "SuccessfulDelete", "Deleted pod: "+p.Metadata.Name); err != nil {
				return err
			}
		}
		for _, e := range plan.Events {
			if err := events.Record(ctx, tx, now, component, ref, e.Type, e.Reason, e.Message); err != nil {
				return err
			}
		}
		if !proto.Equal(ds.Status, plan.Status) {
			ds.Status = plan.Status
			if _, err := kinds.DaemonSets.Update(ctx, tx, ds); err != nil {
				return fmt.Errorf("update daemon set status: %w", err)
			}
		}
		if err := revisions.Truncate(ctx, tx, reconcile.HistoryToDelete(ds, hp.Old, pods)); err != nil {
			return err
		}
		requeue = plan.RequeueAfter
		again = len(plan.CreateOn) > 0 || len(plan.Delete) > 0
		return nil
	})
	if err != nil {
		return err
	}
	for _, node := range failedOn {
		c.backoff.next(failedUID+"/"+node, failedAt)
	}
	if again {
		c.daemonSets.Enqueue(key)
	}
	if requeue > 0 {
		c.daemonSets.EnqueueAfter(key, requeue)
	}
	return nil
}

// deleteForeground carries out a Foreground deletion: the pods go first, then the
// revisions and the DaemonSet.
func (c *Controller) deleteForeground(ctx context.Context, tx pgx.Tx, ds *daemonsetv1.DaemonSet, pods []*corev1.Pod, now time.Time) error {
	for _, p := range pods {
		if err := podview.Delete(ctx, tx, p, now); err != nil {
			return err
		}
	}
	if len(pods) > 0 || !crud.HasFinalizer(ds.Metadata, crud.FinalizerForeground) {
		return nil
	}
	_, err := kinds.DaemonSets.Delete(ctx, tx, ds.Metadata.Namespace, ds.Metadata.Name, ds.Metadata.Uid)
	return err
}

const (
	// gcKey is enqueued (debounced by gcDelay) on every DaemonSet and
	// ControllerRevision change; repairKey only by the periodic resync.
	gcKey     = "gc"
	repairKey = "repair"
	gcDelay   = 100 * time.Millisecond
)

// collectGarbage deletes what a Background deletion left behind: revisions and
// pods whose DaemonSet is gone. On repairKey it repairs the pod view instead
// (lost commands, old tombstones).
func (c *Controller) collectGarbage(ctx context.Context, key string) error {
	if key == repairKey {
		return c.db.InTx(ctx, func(tx pgx.Tx) error { return view.Repair(ctx, tx, c.clock.Now()) })
	}
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		now := c.clock.Now()
		crs, err := kinds.ControllerRevisions.Orphans(ctx, tx)
		if err != nil {
			return err
		}
		for _, cr := range crs {
			if _, err := kinds.ControllerRevisions.Delete(ctx, tx, cr.Metadata.Namespace, cr.Metadata.Name, cr.Metadata.Uid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := podview.CollectGarbage(ctx, tx, now); err != nil {
			return err
		}
		c.backoff.gc(now)
		return nil
	})
}
