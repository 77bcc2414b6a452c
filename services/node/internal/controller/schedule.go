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

// schedule is one scheduling pass: read the pods and nodes (from the watch caches,
// once they hold every write committed before the pass: the binds of the last pass and
// the pods that woke it), let placement.Decide place the pending ones (the pod IPs in
// use are the cached pods'; the pod_ips table still guarantees that no two pods get
// one, failing a bind that would), then write the bindings (in parallel chunks, each pod re-read locked) and the
// unschedulable pods' conditions.
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
	now := c.clock.Now()
	nodes := c.caches.Nodes.Select(store.ListOptions{})
	pods := c.caches.Pods.Select(store.ListOptions{})
	used := placement.UsedIPs(pods)

	c.mu.Lock()
	plan := placement.Decide(placement.Input{Pods: pods, Nodes: nodes, UsedIPs: used, LastIP: c.lastIP, Now: now, Delay: c.cfg.ScheduleDelay})
	c.lastIP = plan.LastIP
	c.mu.Unlock()
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
			if err := c.db.InTx(gctx, func(tx pgx.Tx) error { return c.bind(gctx, tx, now, chunk) }); err != nil {
				return fmt.Errorf("bind pods: %w", err)
			}
			for _, b := range chunk {
				c.kubelet.Enqueue(repo.Key(b.Pod.GetMetadata()))
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
// pod_ips) and the Scheduled event. A pod that changed meanwhile (deleted,
// already bound) is skipped; the next pass sees it as it is.
func (c *Controllers) bind(ctx context.Context, tx pgx.Tx, now time.Time, binds []placement.Binding) error {
	ts := timestamppb.New(now)
	for _, b := range binds {
		m := b.Pod.GetMetadata()
		p, err := lockUnbound(ctx, tx, b.Pod)
		if err != nil {
			return err
		}
		if p == nil {
			continue
		}
		if !p.GetSpec().GetHostNetwork() {
			if err := repo.AssignIP(ctx, tx, b.PodIP, m.GetUid(), b.Node); err != nil {
				return err
			}
		}
		var evs []repo.Event
		if p.GetSpec().GetNodeName() == "" { // a preset nodeName bypasses the scheduler: no event
			evs = append(evs, repo.Event{Type: podstatus.EventNormal, Reason: "Scheduled", Component: repo.ComponentScheduler,
				Message: fmt.Sprintf("Successfully assigned %s/%s to %s", m.GetNamespace(), m.GetName(), b.Node)})
		}
		admission.Bind(p, b.Node, b.HostIP, b.PodIP, ts)
		if _, err := repo.UpdatePod(ctx, tx, now, p, repo.OwnerKind(p), evs); err != nil {
			return err
		}
	}
	return nil
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
