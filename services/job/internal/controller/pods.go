package controller

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/job/internal/kinds"
	"github.com/podwarden/podwarden/services/job/internal/reconcile"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
)

// observedVersionKey is an internal annotation of this service's pod view: the
// version of the last pod event applied, so older or repeated events are dropped.
const observedVersionKey = "podwarden.io/observed-version"

func observedVersion(p *corev1.Pod) int64 {
	v, _ := strconv.ParseInt(p.GetMetadata().GetAnnotations()[observedVersionKey], 10, 64)
	return v
}

func setObservedVersion(p *corev1.Pod, v int64) {
	if p.Metadata.Annotations == nil {
		p.Metadata.Annotations = map[string]string{}
	}
	p.Metadata.Annotations[observedVersionKey] = strconv.FormatInt(v, 10)
}

func controllerRef(m *corev1.ObjectMeta) *corev1.OwnerReference {
	for _, o := range m.GetOwnerReferences() {
		if o.GetController() {
			return o
		}
	}
	return nil
}

// handlePodEvents applies a batch of the node service's pod events to this
// service's pod view in one transaction, then wakes the Jobs owning them.
func (c *Controller) handlePodEvents(ctx context.Context, msgs []bus.Received) error {
	owners := map[string]bool{}
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		for _, m := range msgs {
			var ev eventsv1.PodEvent
			if err := proto.Unmarshal(m.Data, &ev); err != nil {
				c.log.Warn("dropping undecodable pod event", "subject", m.Subject, "err", err)
				continue
			}
			if ev.GetPod().GetMetadata() == nil {
				continue
			}
			owner, err := applyPodEvent(ctx, tx, &ev)
			if err != nil {
				return err
			}
			if owner != "" {
				owners[owner] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for o := range owners {
		c.jobs.Enqueue(o)
	}
	return nil
}

// applyPodEvent merges one event into the view and returns the owning Job's
// key. The node service is the truth for a pod's status, node, labels and
// deletion; this service for its ownerReferences and its counted mark.
func applyPodEvent(ctx context.Context, tx pgx.Tx, ev *eventsv1.PodEvent) (string, error) {
	p := ev.GetPod()
	m := p.GetMetadata()
	ref := controllerRef(m)
	if ref == nil || ref.GetKind() != "Job" {
		return "", nil
	}
	owner := m.GetNamespace() + "/" + ref.GetName()
	cur, err := kinds.Pods.GetForUpdate(ctx, tx, m.GetNamespace(), m.GetName())
	if errors.Is(err, store.ErrNotFound) {
		if ev.GetType() == eventsv1.PodEvent_TYPE_DELETED {
			return owner, tombstone(ctx, tx, m.GetUid())
		}
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM pod_tombstones WHERE uid=$1", m.GetUid()).Scan(&one)
		if err == nil {
			return owner, nil // a late event about a pod already deleted
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return "", err
		}
		// A pod this view does not hold (its create was lost?): keep it if its Job is ours.
		err = tx.QueryRow(ctx, "SELECT 1 FROM objects WHERE uid=$1 AND kind='Job'", ref.GetUid()).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		} else if err != nil {
			return "", err
		}
		np := proto.Clone(p).(*corev1.Pod)
		np.Metadata.ResourceVersion = ""
		setObservedVersion(np, ev.GetVersion())
		if _, err = kinds.Pods.Create(ctx, tx, np); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return "", err
		}
		return owner, nil
	}
	if err != nil {
		return "", err
	}
	if cur.Metadata.Uid != m.GetUid() || observedVersion(cur) >= ev.GetVersion() {
		return owner, nil
	}
	if ev.GetType() == eventsv1.PodEvent_TYPE_DELETED {
		if _, err := kinds.Pods.Delete(ctx, tx, m.GetNamespace(), m.GetName(), m.GetUid()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		return owner, tombstone(ctx, tx, m.GetUid())
	}
	cur.Status = p.GetStatus()
	if cur.Spec == nil {
		cur.Spec = &corev1.PodSpec{}
	}
	cur.Spec.NodeName = p.GetSpec().GetNodeName()
	cur.Metadata.Labels = m.GetLabels()
	if m.GetDeletionTimestamp() != nil {
		cur.Metadata.DeletionTimestamp = m.GetDeletionTimestamp()
		cur.Metadata.DeletionGracePeriodSeconds = m.DeletionGracePeriodSeconds
	}
	setObservedVersion(cur, ev.GetVersion())
	cur.Metadata.ResourceVersion = ""
	_, err = kinds.Pods.Update(ctx, tx, cur)
	return owner, err
}

func tombstone(ctx context.Context, tx pgx.Tx, uid string) error {
	_, err := tx.Exec(ctx, "INSERT INTO pod_tombstones (uid) VALUES ($1) ON CONFLICT DO NOTHING", uid)
	return err
}

// createPod stores a pod of the view and, in the same transaction, the command
// that asks the node service for it.
func createPod(ctx context.Context, tx pgx.Tx, p *corev1.Pod) (*corev1.Pod, error) {
	created, err := kinds.Pods.Create(ctx, tx, p)
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), err)
	}
	cmd := &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_CREATE, Pod: ForNode(created)}
	return created, store.Enqueue(ctx, tx, bus.PodCommandSubject(created.Metadata.Namespace), "Pod/"+created.Metadata.Uid+"/create", cmd)
}

// deletePod marks a pod of the view as terminating and asks the node service to
// delete it; the row goes when the node service reports it DELETED. A pod that
// already finished is deleted the same way (the node service removes it at once).
func deletePod(ctx context.Context, tx pgx.Tx, p *corev1.Pod, now time.Time) error {
	if p.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	p.Metadata.DeletionTimestamp = timestamppb.New(now.Truncate(time.Second))
	p.Metadata.ResourceVersion = ""
	if _, err := kinds.Pods.Update(ctx, tx, p); err != nil {
		return fmt.Errorf("mark pod %s/%s deleted: %w", p.Metadata.Namespace, p.Metadata.Name, err)
	}
	cmd := &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_DELETE, Pod: ForNode(p)}
	return store.Enqueue(ctx, tx, bus.PodCommandSubject(p.Metadata.Namespace), "Pod/"+p.Metadata.Uid+"/delete", cmd)
}

// ForNode is the pod as the node service should see it: without this view's
// bookkeeping annotations.
func ForNode(p *corev1.Pod) *corev1.Pod {
	a := p.GetMetadata().GetAnnotations()
	_, ov := a[observedVersionKey]
	_, cn := a[reconcile.AnnotationCounted]
	if !ov && !cn {
		return p
	}
	c := proto.Clone(p).(*corev1.Pod)
	delete(c.Metadata.Annotations, observedVersionKey)
	delete(c.Metadata.Annotations, reconcile.AnnotationCounted)
	if len(c.Metadata.Annotations) == 0 {
		c.Metadata.Annotations = nil
	}
	return c
}
