package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/admission"
	"github.com/podwarden/podwarden/services/node/internal/placement"
	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// bindChunk bounds the pods bound in one transaction; bindParallelism the
// transactions in flight.
const (
	bindChunk       = 32
	bindParallelism = 4
)

// schedule is one scheduling pass: once the caches (and so the scheduler's state, which
// their handlers keep) hold every write committed before the pass, the state places the
// pending pods (IPs included, each placement assumed); then the bindings are written in
// parallel chunks, each pod re-read locked (the pod_ips table still guarantees that no
// two pods get one IP, failing a bind that would), and the unschedulable pods'
// conditions. A placement that was not written is forgotten, so the pod is pending
// again. The first pass of a leadership term rebuilds the state from the caches.
func (c *Controllers) schedule(ctx context.Context, _ string) error {
	if err := c.caches.Pods.Synced(ctx); err != nil {
		return err
	}
	if err := c.caches.Nodes.Synced(ctx); err != nil {
		return err
	}
	if err := c.caches.Hub.Sync(ctx); err != nil {
		return err
	}
	if c.newTerm.Swap(false) {
		c.state.Reset(c.caches.Pods.Select(store.ListOptions{}), c.caches.Nodes.Select(store.ListOptions{}))
	}
	now := c.clock.Now()
	plan := c.state.Schedule(now, c.cfg.ScheduleDelay)
	c.unschedulable.Store(int64(len(plan.Unschedulable)))
	if plan.Requeue > 0 {
		c.scheduler.EnqueueAfter(scheduleKey, plan.Requeue)
	}

	// Placements are decided (IPs included): chunks can be written in parallel.
	binds := plan.Bindings
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bindParallelism)
	for start := 0; start < len(binds); start += bindChunk {
		chunk := binds[start:min(start+bindChunk, len(binds))]
		g.Go(func() error {
			var skipped []*corev1.Pod
			err := c.db.InTx(gctx, func(tx pgx.Tx) error {
				var err error
				skipped, err = c.bind(gctx, tx, now, chunk)
				return err
			})
			if err != nil {
				for _, b := range chunk {
					c.state.Forget(b.Pod)
				}
				return fmt.Errorf("bind pods: %w", err)
			}
			for _, p := range skipped {
				c.state.Forget(p)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for fails := plan.Unschedulable; len(fails) > 0; {
		n := min(len(fails), bindChunk)
		if err := c.db.InTx(ctx, func(tx pgx.Tx) error { return c.markUnschedulable(ctx, tx, now, fails[:n]) }); err != nil {
			return fmt.Errorf("record unschedulable pods: %w", err)
		}
		fails = fails[n:]
	}
	return nil
}

// lockUnbound re-reads a pod the scheduling pass saw, locked for update; nil when it
// changed meanwhile (gone, another uid, already bound, being deleted).
func lockUnbound(ctx context.Context, tx pgx.Tx, seen *corev1.Pod) (*corev1.Pod, error) {
	m := seen.GetMetadata()
	p, err := repo.Pods.GetForUpdate(ctx, tx, m.GetNamespace(), m.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if p.GetMetadata().GetUid() != m.GetUid() || placement.Bound(p) || p.GetMetadata().GetDeletionTimestamp() != nil {
		return nil, nil
	}
	return p, nil
}

// bind writes the bindings: nodeName, PodScheduled, hostIP, podIP (reserved in
// pod_ips) and the Scheduled event; the pods are read locked in one statement and
// written together (repo.PodWrites), their IPs reserved in one. A pod that changed
// meanwhile (deleted, already bound) is skipped and returned; the next pass sees it as
// it is.
func (c *Controllers) bind(ctx context.Context, tx pgx.Tx, now time.Time, binds []placement.Binding) (skipped []*corev1.Pod, err error) {
	ts := timestamppb.New(now)
	keys := make([]string, len(binds))
	for i, b := range binds {
		keys[i] = repo.Key(b.Pod.GetMetadata())
	}
	locked, err := repo.Pods.GetManyForUpdate(ctx, tx, keys)
	if err != nil {
		return nil, err
	}
	var w repo.PodWrites
	var ips []repo.IPAssignment
	for i, b := range binds {
		m := b.Pod.GetMetadata()
		p := locked[keys[i]]
		if p == nil || p.GetMetadata().GetUid() != m.GetUid() || placement.Bound(p) || p.GetMetadata().GetDeletionTimestamp() != nil {
			skipped = append(skipped, b.Pod)
			continue
		}
		if !p.GetSpec().GetHostNetwork() {
			ips = append(ips, repo.IPAssignment{IP: b.PodIP, UID: m.GetUid(), Node: b.Node})
		}
		var evs []repo.Event
		if p.GetSpec().GetNodeName() == "" { // a preset nodeName bypasses the scheduler: no event
			evs = append(evs, repo.Event{Type: podstatus.EventNormal, Reason: "Scheduled", Component: repo.ComponentScheduler,
				Message: fmt.Sprintf("Successfully assigned %s/%s to %s", m.GetNamespace(), m.GetName(), b.Node)})
		}
		admission.Bind(p, b.Node, b.HostIP, b.PodIP, ts)
		w.Update(p, evs)
	}
	if err := repo.AssignIPs(ctx, tx, ips); err != nil {
		return nil, err
	}
	return skipped, w.Write(ctx, tx, now)
}

// markUnschedulable sets PodScheduled=False/Unschedulable with the scheduler's
// message and records FailedScheduling, when the message is new.
func (c *Controllers) markUnschedulable(ctx context.Context, tx pgx.Tx, now time.Time, fails []placement.Unschedulable) error {
	for _, f := range fails {
		p, err := lockUnbound(ctx, tx, f.Pod)
		if err != nil {
			return err
		}
		if p == nil {
			continue
		}
		if _, cond := podutil.GetPodCondition(p.GetStatus(), podutil.PodScheduled); cond != nil &&
			cond.GetStatus() == "False" && cond.GetReason() == "Unschedulable" && cond.GetMessage() == f.Reason {
			continue
		}
		if p.Status == nil {
			p.Status = &corev1.PodStatus{Phase: podutil.PodPending}
		}
		podstatus.SetCondition(p.Status, podutil.PodScheduled, "False", "Unschedulable", f.Reason, now)
		ev := repo.Event{Type: podstatus.EventWarning, Reason: "FailedScheduling", Message: f.Reason, Component: repo.ComponentScheduler}
		if _, err := repo.UpdatePod(ctx, tx, now, p, repo.OwnerKind(p), []repo.Event{ev}); err != nil {
			return err
		}
	}
	return nil
}
