package controller

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/admission"
	"github.com/podwarden/podwarden/services/node/internal/quota"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/naming"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
)

// handleCommands applies a batch of pod commands in one transaction. Every
// command is idempotent: a repeated or late one changes nothing wrong.
func (c *Controllers) handleCommands(ctx context.Context, msgs []bus.Received) error {
	cmds := make([]*eventsv1.PodCommand, 0, len(msgs))
	for _, m := range msgs {
		cmd := &eventsv1.PodCommand{}
		if err := proto.Unmarshal(m.Data, cmd); err != nil {
			c.log.Warn("dropping undecodable pod command", "subject", m.Subject, "err", err)
			continue
		}
		cmds = append(cmds, cmd)
	}
	// The batch's runs of one op are applied one after the other (runs keeps the
	// stream's order between a deletion and a later creation); within a run,
	// commands about one pod stay in order in one transaction and different pods
	// are applied in parallel transactions.
	var created atomic.Bool
	for _, run := range runs(cmds) {
		parts := make([][]*eventsv1.PodCommand, commandParallelism)
		for _, cmd := range run {
			h := fnv.New32a()
			h.Write([]byte(repo.Key(cmd.GetPod().GetMetadata())))
			i := h.Sum32() % commandParallelism
			parts[i] = append(parts[i], cmd)
		}
		g, gctx := errgroup.WithContext(ctx)
		for _, part := range parts {
			if len(part) == 0 {
				continue
			}
			g.Go(func() error {
				return c.db.InTx(gctx, func(tx pgx.Tx) error {
					ok, err := c.applyCommands(gctx, tx, part)
					if ok {
						created.Store(true)
					}
					return err
				})
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	if created.Load() {
		c.scheduler.Enqueue(scheduleKey)
	}
	return nil
}

// commandParallelism is the number of transactions a batch of commands is split into.
const commandParallelism = 4

// runs splits a batch into its maximal runs of commands of one op, in order. A
// controller's commands about different pods carry an order too: a rolling update
// deletes an old pod and then creates its replacement (or creates it, then deletes
// the old one once it is ready). Applied in parallel transactions, the creation
// could commit, and be watched, before the deletion that came first: more live pods
// than maxSurge allows, or fewer ready ones than maxUnavailable, for a moment. That
// happens when a batch holds both, i.e. when a restarted node service works off a
// backlog; applying the runs one after the other keeps every deletion before a later
// creation and every creation before a later deletion.
func runs(cmds []*eventsv1.PodCommand) [][]*eventsv1.PodCommand {
	var out [][]*eventsv1.PodCommand
	for i, cmd := range cmds {
		if i == 0 || cmd.GetOp() != cmds[i-1].GetOp() {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], cmd)
	}
	return out
}

// applyCommands applies commands in order in tx; created reports a new pod. A run of
// creations (a ReplicaSet's burst) or of deletions (a scale-down) is written together.
func (c *Controllers) applyCommands(ctx context.Context, tx pgx.Tx, cmds []*eventsv1.PodCommand) (created bool, err error) {
	now := c.clock.Now()
	valid := cmds[:0:0]
	for _, cmd := range cmds {
		m := cmd.GetPod().GetMetadata()
		if m.GetUid() == "" || m.GetName() == "" && m.GetGenerateName() == "" {
			c.log.Warn("dropping pod command without uid or name", "op", cmd.GetOp().String(), "pod", repo.Key(m))
			continue
		}
		valid = append(valid, cmd)
	}
	for _, run := range runs(valid) {
		var err error
		switch run[0].GetOp() {
		case eventsv1.PodCommand_OP_CREATE:
			pods := make([]*corev1.Pod, len(run))
			for i, cmd := range run {
				pods[i] = cmd.GetPod()
			}
			var ok bool
			ok, err = c.createPods(ctx, tx, now, pods)
			created = created || ok
		case eventsv1.PodCommand_OP_DELETE:
			err = c.deletePods(ctx, tx, now, run)
		case eventsv1.PodCommand_OP_UPDATE:
			for _, cmd := range run {
				if err = c.updatePod(ctx, tx, now, cmd.GetPod()); err != nil {
					break
				}
			}
		default:
			for _, cmd := range run {
				c.log.Warn("dropping pod command with unknown op", "op", cmd.GetOp().String(), "pod", repo.Key(cmd.GetPod().GetMetadata()))
			}
		}
		if err != nil {
			return created, fmt.Errorf("%s %d pods: %w", run[0].GetOp(), len(run), err)
		}
	}
	return created, nil
}

// createPods stores commanded pods unless their uid is known (stored or deleted), in
// one lookup and one multi-row insert. When another pod holds the name, the commanded
// one is reported DELETED so its owner creates a replacement.
func (c *Controllers) createPods(ctx context.Context, tx pgx.Tx, now time.Time, cmdPods []*corev1.Pod) (bool, error) {
	pods := make([]*corev1.Pod, len(cmdPods))
	for i, cp := range cmdPods {
		p := proto.Clone(cp).(*corev1.Pod)
		m := p.GetMetadata()
		if m.Namespace == "" {
			m.Namespace = "default"
		}
		if m.Name == "" {
			m.Name = naming.GenerateName(m.GetGenerateName())
		}
		pods[i] = p
	}
	known, taken, err := repo.CreateChecks(ctx, tx, pods)
	if err != nil {
		return false, err
	}
	var fresh []*corev1.Pod
	for i, p := range pods {
		switch {
		case known[i]:
		case taken[i]:
			if err := c.nameTaken(ctx, tx, p); err != nil {
				return false, err
			}
		default:
			m := p.GetMetadata()
			admission.Prepare(p)
			m.ResourceVersion, m.DeletionTimestamp, m.DeletionGracePeriodSeconds = "", nil, nil
			if m.CreationTimestamp == nil {
				m.CreationTimestamp = timestamppb.New(now.Truncate(time.Second))
			}
			fresh = append(fresh, p)
		}
	}
	fresh, err = c.admit(ctx, tx, now, fresh)
	if err != nil || len(fresh) == 0 {
		return false, err
	}
	created, err := repo.CreatePods(ctx, tx, fresh)
	if err != nil {
		return false, err
	}
	stored := false
	for i, p := range fresh {
		if created[i] {
			stored = true
			continue
		}
		// Two commands of this batch for one uid (a redelivery), or for one name.
		m := p.GetMetadata()
		known, taken, err := repo.CreateCheck(ctx, tx, m.GetUid(), m.GetNamespace(), m.GetName())
		if err != nil {
			return false, err
		}
		if !known && taken {
			if err := c.nameTaken(ctx, tx, p); err != nil {
				return false, err
			}
		}
	}
	return stored, nil
}

// nameTaken reports a commanded pod whose name another pod holds as deleted.
func (c *Controllers) nameTaken(ctx context.Context, tx pgx.Tx, p *corev1.Pod) error {
	c.log.Info("pod name taken; reporting the commanded pod deleted", "pod", repo.Key(p.GetMetadata()), "uid", p.GetMetadata().GetUid())
	return repo.PublishDeleted(ctx, tx, p)
}

// deletePods deletes the commanded pods gracefully, read locked in one statement and
// written together. A pod that is not there (or is another pod of that name) is
// tombstoned (a late create must not bring it back) and reported DELETED.
func (c *Controllers) deletePods(ctx context.Context, tx pgx.Tx, now time.Time, cmds []*eventsv1.PodCommand) error {
	keys := make([]string, len(cmds))
	for i, cmd := range cmds {
		m := cmd.GetPod().GetMetadata()
		ns := m.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		keys[i] = ns + "/" + m.GetName()
	}
	locked, err := repo.Pods.GetManyForUpdate(ctx, tx, keys)
	if err != nil {
		return err
	}
	var w repo.PodWrites
	done := map[string]bool{}
	for i, cmd := range cmds {
		m := cmd.GetPod().GetMetadata()
		p := locked[keys[i]]
		if p == nil || p.GetMetadata().GetUid() != m.GetUid() {
			known, err := repo.Known(ctx, tx, m.GetUid())
			if err != nil {
				return err
			}
			if !known {
				if err := repo.PublishDeleted(ctx, tx, proto.Clone(cmd.GetPod()).(*corev1.Pod)); err != nil {
					return err
				}
			}
			continue
		}
		if done[keys[i]] {
			continue // the same deletion again (a redelivery in the batch)
		}
		done[keys[i]] = true
		w.GracefulDelete(now, p, cmd.GracePeriodSeconds)
	}
	return w.Write(ctx, tx, now)
}

// updatePod replaces labels, annotations and ownerReferences (orphaning,
// adoption). The sim's fault annotation survives.
func (c *Controllers) updatePod(ctx context.Context, tx pgx.Tx, now time.Time, cmdPod *corev1.Pod) error {
	m := cmdPod.GetMetadata()
	ns := m.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	p, err := repo.Pods.GetForUpdate(ctx, tx, ns, m.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || p.GetMetadata().GetUid() != m.GetUid() {
		return err
	}
	next := proto.Clone(p).(*corev1.Pod)
	nm := next.Metadata
	nm.Labels = maps.Clone(m.GetLabels())
	annotations := maps.Clone(m.GetAnnotations())
	if v, ok := p.GetMetadata().GetAnnotations()[sim.AnnotationUnready]; ok {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[sim.AnnotationUnready] = v
	}
	nm.Annotations = annotations
	nm.OwnerReferences = nil
	for _, o := range m.GetOwnerReferences() {
		nm.OwnerReferences = append(nm.OwnerReferences, proto.Clone(o).(*corev1.OwnerReference))
	}
	if proto.Equal(next.Metadata, p.Metadata) {
		return nil
	}
	_, err = repo.UpdatePod(ctx, tx, now, next, repo.OwnerKind(p), nil)
	return err
}

// admit runs the namespaces' admission (LimitRanges, ResourceQuotas) on commanded
// pods, as kube-apiserver does on a controller's create: a refused pod is
// reported to its owner (repo.PublishRefused) and left out; the quotas' usage is
// charged in tx, whose lock on them serializes the creates of a namespace.
func (c *Controllers) admit(ctx context.Context, tx pgx.Tx, now time.Time, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	byNS := map[string]*quota.Namespace{}
	var order []string
	out := pods[:0:0]
	for _, p := range pods {
		ns := p.GetMetadata().GetNamespace()
		n, ok := byNS[ns]
		if !ok {
			var err error
			if n, err = repo.LoadAdmission(ctx, tx, ns, now); err != nil {
				return nil, err
			}
			byNS[ns] = n
			order = append(order, ns)
		}
		if err := n.Admit(p); err != nil {
			why := quota.Refusal(p.GetMetadata().GetName(), err)
			c.log.Info("pod creation refused", "pod", repo.Key(p.GetMetadata()), "uid", p.GetMetadata().GetUid(), "reason", why)
			if err := repo.PublishRefused(ctx, tx, p, why); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, p)
	}
	for _, ns := range order {
		if err := repo.WriteQuotaStatuses(ctx, tx, byNS[ns]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
