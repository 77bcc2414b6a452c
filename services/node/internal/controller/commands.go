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

// applyCommands applies commands in order in tx; created reports a new pod.
func (c *Controllers) applyCommands(ctx context.Context, tx pgx.Tx, cmds []*eventsv1.PodCommand) (created bool, err error) {
	now := c.clock.Now()
	for _, cmd := range cmds {
		m := cmd.GetPod().GetMetadata()
		if m.GetUid() == "" || m.GetName() == "" && m.GetGenerateName() == "" {
			c.log.Warn("dropping pod command without uid or name", "op", cmd.GetOp().String(), "pod", repo.Key(m))
			continue
		}
		var err error
		switch cmd.GetOp() {
		case eventsv1.PodCommand_OP_CREATE:
			var ok bool
			ok, err = c.createPod(ctx, tx, now, cmd.GetPod())
			created = created || ok
		case eventsv1.PodCommand_OP_DELETE:
			err = c.deletePod(ctx, tx, now, cmd.GetPod(), cmd.GracePeriodSeconds)
		case eventsv1.PodCommand_OP_UPDATE:
			err = c.updatePod(ctx, tx, now, cmd.GetPod())
		default:
			c.log.Warn("dropping pod command with unknown op", "op", cmd.GetOp().String(), "pod", repo.Key(m))
		}
		if err != nil {
			return created, fmt.Errorf("%s pod %s: %w", cmd.GetOp(), repo.Key(m), err)
		}
	}
	return created, nil
}

// createPod stores a commanded pod unless its uid is known (stored or deleted).
// When another pod holds the name, the commanded one is reported DELETED so its
// owner creates a replacement.
func (c *Controllers) createPod(ctx context.Context, tx pgx.Tx, now time.Time, cmdPod *corev1.Pod) (bool, error) {
	p := proto.Clone(cmdPod).(*corev1.Pod)
	m := p.GetMetadata()
	if m.Namespace == "" {
		m.Namespace = "default"
	}
	if m.Name == "" {
		m.Name = naming.GenerateName(m.GetGenerateName())
	}
	known, taken, err := repo.CreateCheck(ctx, tx, m.GetUid(), m.Namespace, m.Name)
	if err != nil || known {
		return false, err
	}
	if taken {
		c.log.Info("pod name taken; reporting the commanded pod deleted", "pod", repo.Key(m), "uid", m.GetUid())
		return false, repo.PublishDeleted(ctx, tx, p)
	}
	admission.Prepare(p)
	m.ResourceVersion, m.DeletionTimestamp, m.DeletionGracePeriodSeconds = "", nil, nil
	if m.CreationTimestamp == nil {
		m.CreationTimestamp = timestamppb.New(now.Truncate(time.Second))
	}
	_, err = repo.CreatePod(ctx, tx, now, p, nil)
	return err == nil, err
}

// deletePod deletes the commanded pod gracefully. A pod that is not there is
// tombstoned (a late create must not bring it back) and reported DELETED.
func (c *Controllers) deletePod(ctx context.Context, tx pgx.Tx, now time.Time, cmdPod *corev1.Pod, grace *int64) error {
	m := cmdPod.GetMetadata()
	ns := m.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	p, err := repo.Pods.GetForUpdate(ctx, tx, ns, m.GetName())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err != nil || p.GetMetadata().GetUid() != m.GetUid() {
		known, err := repo.Known(ctx, tx, m.GetUid())
		if err != nil || known {
			return err
		}
		return repo.PublishDeleted(ctx, tx, proto.Clone(cmdPod).(*corev1.Pod))
	}
	_, _, err = repo.GracefulDelete(ctx, tx, now, p, grace)
	return err
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
