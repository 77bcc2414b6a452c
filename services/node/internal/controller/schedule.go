package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/admission"
	"github.com/podwarden/podwarden/services/node/internal/fleet"
	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/services/node/internal/scheduler"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// bindChunk bounds the pods bound in one transaction; bindParallelism the
// transactions in flight.
const (
	bindChunk       = 32
	bindParallelism = 4
)

// Bound reports whether the scheduler (or the kubelet, for a preset nodeName)
// has bound the pod: PodScheduled=True.
func Bound(p *corev1.Pod) bool {
	_, c := podutil.GetPodCondition(p.GetStatus(), podutil.PodScheduled)
	return c.GetStatus() == podutil.ConditionTrue && p.GetSpec().GetNodeName() != ""
}

type binding struct {
	pod           *corev1.Pod
	node          string
	hostIP, podIP string
}

type failure struct {
	pod    *corev1.Pod
	reason string
}

// schedule is one scheduling pass: every pending pod, oldest first, against a
// snapshot of nodes and bound pods that is updated as pods are placed.
func (c *Controllers) schedule(ctx context.Context, _ string) error {
	now := c.clock.Now()
	nodes, err := repo.Nodes.List(ctx, c.db.Pool, store.ListOptions{})
	if err != nil {
		return err
	}
	pods, err := repo.Pods.List(ctx, c.db.Pool, store.ListOptions{})
	if err != nil {
		return err
	}
	used, err := repo.UsedIPs(ctx, c.db.Pool)
	if err != nil {
		return err
	}
	byName := map[string]*nodev1.Node{}
	for _, n := range nodes {
		byName[n.GetMetadata().GetName()] = n
	}
	byNode := map[string][]*corev1.Pod{}
	var pending []*corev1.Pod
	for _, p := range pods {
		switch {
		case Bound(p):
			byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
		case p.GetMetadata().GetDeletionTimestamp() == nil && !podutil.IsPodTerminal(p):
			pending = append(pending, p)
		}
	}
	sort.SliceStable(pending, func(i, j int) bool {
		a, b := pending[i].GetMetadata().GetCreationTimestamp().AsTime(), pending[j].GetMetadata().GetCreationTimestamp().AsTime()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return repo.Key(pending[i].GetMetadata()) < repo.Key(pending[j].GetMetadata())
	})

	snap := scheduler.NewSnapshot(nodes, byNode)
	var binds []binding
	var fails []failure
	var wait time.Duration
	c.mu.Lock()
	for _, p := range pending {
		if c.cfg.ScheduleDelay > 0 {
			due := p.GetMetadata().GetCreationTimestamp().AsTime().Add(c.cfg.ScheduleDelay)
			if d := due.Sub(now); d > 0 {
				if wait == 0 || d < wait {
					wait = d
				}
				continue
			}
		}
		name, reason := snap.Schedule(p)
		if name == "" {
			if p.GetSpec().GetNodeName() == "" {
				fails = append(fails, failure{pod: p, reason: reason})
			}
			continue
		}
		node := byName[name]
		b := binding{pod: p, node: name, hostIP: fleet.InternalIP(node)}
		if p.GetSpec().GetHostNetwork() {
			b.podIP = b.hostIP
		} else {
			if used[name] == nil {
				used[name] = map[string]bool{}
			}
			ip, err := ipam.Allocate(node.GetSpec().GetPodCidr(), used[name], c.lastIP[name])
			if err != nil {
				fails = append(fails, failure{pod: p, reason: fmt.Sprintf("failed to allocate a pod IP on node %s: %v", name, err)})
				continue
			}
			used[name][ip], c.lastIP[name] = true, ip
			b.podIP = ip
		}
		snap.Assume(p, name)
		binds = append(binds, b)
	}
	c.mu.Unlock()
	c.unschedulable.Store(int64(len(fails)))
	if wait > 0 {
		c.scheduler.EnqueueAfter(scheduleKey, wait)
	}

	// Placements are decided (IPs included): chunks can be written in parallel.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bindParallelism)
	for start := 0; start < len(binds); start += bindChunk {
		chunk := binds[start:min(start+bindChunk, len(binds))]
		g.Go(func() error {
			if err := c.db.InTx(gctx, func(tx pgx.Tx) error { return c.bind(gctx, tx, now, chunk) }); err != nil {
				return fmt.Errorf("bind pods: %w", err)
			}
			for _, b := range chunk {
				c.kubelet.Enqueue(repo.Key(b.pod.GetMetadata()))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for len(fails) > 0 {
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
	if p.GetMetadata().GetUid() != m.GetUid() || Bound(p) || p.GetMetadata().GetDeletionTimestamp() != nil {
		return nil, nil
	}
	return p, nil
}

// bind writes the bindings: nodeName, PodScheduled, hostIP, podIP (reserved in
// pod_ips) and the Scheduled event. A pod that changed meanwhile (deleted,
// already bound) is skipped; the next pass sees it as it is.
func (c *Controllers) bind(ctx context.Context, tx pgx.Tx, now time.Time, binds []binding) error {
	ts := timestamppb.New(now)
	for _, b := range binds {
		m := b.pod.GetMetadata()
		p, err := lockUnbound(ctx, tx, b.pod)
		if err != nil {
			return err
		}
		if p == nil {
			continue
		}
		if !p.GetSpec().GetHostNetwork() {
			if err := repo.AssignIP(ctx, tx, b.podIP, m.GetUid(), b.node); err != nil {
				return err
			}
		}
		var evs []repo.Event
		if p.GetSpec().GetNodeName() == "" { // a preset nodeName bypasses the scheduler: no event
			evs = append(evs, repo.Event{Type: podstatus.EventNormal, Reason: "Scheduled", Component: repo.ComponentScheduler,
				Message: fmt.Sprintf("Successfully assigned %s/%s to %s", m.GetNamespace(), m.GetName(), b.node)})
		}
		admission.Bind(p, b.node, b.hostIP, b.podIP, ts)
		if _, err := repo.UpdatePod(ctx, tx, now, p, repo.OwnerKind(p), evs); err != nil {
			return err
		}
	}
	return nil
}

// markUnschedulable sets PodScheduled=False/Unschedulable with the scheduler's
// message and records FailedScheduling, when the message is new.
func (c *Controllers) markUnschedulable(ctx context.Context, tx pgx.Tx, now time.Time, fails []failure) error {
	for _, f := range fails {
		p, err := lockUnbound(ctx, tx, f.pod)
		if err != nil {
			return err
		}
		if p == nil {
			continue
		}
		if _, cond := podutil.GetPodCondition(p.GetStatus(), podutil.PodScheduled); cond != nil &&
			cond.GetStatus() == "False" && cond.GetReason() == "Unschedulable" && cond.GetMessage() == f.reason {
			continue
		}
		if p.Status == nil {
			p.Status = &corev1.PodStatus{Phase: podutil.PodPending}
		}
		podstatus.SetCondition(p.Status, podutil.PodScheduled, "False", "Unschedulable", f.reason, now)
		ev := repo.Event{Type: podstatus.EventWarning, Reason: "FailedScheduling", Message: f.reason, Component: repo.ComponentScheduler}
		if _, err := repo.UpdatePod(ctx, tx, now, p, repo.OwnerKind(p), []repo.Event{ev}); err != nil {
			return err
		}
	}
	return nil
}
