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
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
)

// observedVersionKey is an internal annotation of this service's views: the version
// of the last event applied, so older or repeated events are dropped.
const observedVersionKey = "podwarden.io/observed-version"

func observedVersion(m *corev1.ObjectMeta) int64 {
	v, _ := strconv.ParseInt(m.GetAnnotations()[observedVersionKey], 10, 64)
	return v
}

func setObservedVersion(m *corev1.ObjectMeta, v int64) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[observedVersionKey] = strconv.FormatInt(v, 10)
}

func controllerRef(m *corev1.ObjectMeta) *corev1.OwnerReference {
	for _, o := range m.GetOwnerReferences() {
		if o.GetController() {
			return o
		}
	}
	return nil
}

// handlePodEvents applies a batch of pod events to the pod view in one
// transaction, then wakes the DaemonSets that own them.
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
			woken, err := applyPodEvent(ctx, tx, &ev)
			if err != nil {
				return err
			}
			for _, o := range woken {
				owners[o] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for o := range owners {
		c.daemonSets.Enqueue(o)
	}
	return nil
}

func ownerKeyOf(p *corev1.Pod) (string, bool) {
	ref := controllerRef(p.GetMetadata())
	if ref == nil || ref.GetKind() != "DaemonSet" {
		return "", false
	}
	return p.GetMetadata().GetNamespace() + "/" + ref.GetName(), true
}

// applyPodEvent merges one event into the view. The node service is the truth for a
// pod's status, node, labels and deletion; this service for its ownerReferences.
func applyPodEvent(ctx context.Context, tx pgx.Tx, ev *eventsv1.PodEvent) ([]string, error) {
	p := ev.GetPod()
	m := p.GetMetadata()
	var woken []string
	if o, ok := ownerKeyOf(p); ok {
		woken = append(woken, o)
	}
	cur, err := kinds.Pods.GetForUpdate(ctx, tx, m.GetNamespace(), m.GetName())
	if errors.Is(err, store.ErrNotFound) {
		if ev.GetType() == eventsv1.PodEvent_TYPE_DELETED {
			return woken, tombstone(ctx, tx, m.GetUid())
		}
		if dead, err := isTombstoned(ctx, tx, m.GetUid()); err != nil || dead {
			return woken, err
		}
		// Only pods of DaemonSets this service stores.
		ref := controllerRef(m)
		if ref == nil {
			return nil, nil
		}
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM objects WHERE uid=$1", ref.GetUid()).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		np := proto.Clone(p).(*corev1.Pod)
		np.Metadata.ResourceVersion = ""
		setObservedVersion(np.Metadata, ev.GetVersion())
		_, err = kinds.Pods.Create(ctx, tx, np)
		if errors.Is(err, store.ErrAlreadyExists) {
			return woken, nil
		}
		return woken, err
	}
	if err != nil {
		return nil, err
	}
	if o, ok := ownerKeyOf(cur); ok {
		woken = append(woken, o)
	}
	if cur.Metadata.Uid != m.GetUid() || observedVersion(cur.Metadata) >= ev.GetVersion() {
		return woken, nil
	}
	if ev.GetType() == eventsv1.PodEvent_TYPE_DELETED {
		_, err := kinds.Pods.Delete(ctx, tx, m.GetNamespace(), m.GetName(), m.GetUid())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return woken, tombstone(ctx, tx, m.GetUid())
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
	setObservedVersion(cur.Metadata, ev.GetVersion())
	cur.Metadata.ResourceVersion = ""
	_, err = kinds.Pods.Update(ctx, tx, cur)
	return woken, err
}

func tombstone(ctx context.Context, tx pgx.Tx, uid string) error {
	_, err := tx.Exec(ctx, "INSERT INTO tombstones (uid) VALUES ($1) ON CONFLICT DO NOTHING", uid)
	return err
}

func isTombstoned(ctx context.Context, tx pgx.Tx, uid string) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM tombstones WHERE uid=$1", uid).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// createPod stores a pod of the view and, in the same transaction, the command that
// asks the node service for it.
func createPod(ctx context.Context, tx pgx.Tx, p *corev1.Pod) (*corev1.Pod, error) {
	created, err := kinds.Pods.Create(ctx, tx, p)
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), err)
	}
	cmd := &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_CREATE, Pod: created}
	return created, store.Enqueue(ctx, tx, bus.PodCommandSubject(created.Metadata.Namespace), "Pod/"+created.Metadata.Uid+"/create", cmd)
}

// deletePod marks a pod of the view as terminating and asks the node service to
// delete it; the row goes when the node service reports it DELETED.
func deletePod(ctx context.Context, tx pgx.Tx, p *corev1.Pod, now time.Time) error {
	if p.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	p = proto.Clone(p).(*corev1.Pod)
	p.Metadata.DeletionTimestamp = timestamppb.New(now.Truncate(time.Second))
	p.Metadata.ResourceVersion = ""
	if _, err := kinds.Pods.Update(ctx, tx, p); err != nil {
		return fmt.Errorf("mark pod %s/%s deleted: %w", p.Metadata.Namespace, p.Metadata.Name, err)
	}
	cmd := &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_DELETE, Pod: ForNode(p)}
	return store.Enqueue(ctx, tx, bus.PodCommandSubject(p.Metadata.Namespace), "Pod/"+p.Metadata.Uid+"/delete", cmd)
}

// UpdatePodOwners stores new ownerReferences of a pod and tells the node service.
func UpdatePodOwners(ctx context.Context, tx pgx.Tx, p *corev1.Pod, now time.Time) error {
	p.Metadata.ResourceVersion = ""
	if _, err := kinds.Pods.Update(ctx, tx, p); err != nil {
		return err
	}
	cmd := &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_UPDATE, Pod: ForNode(p)}
	return store.Enqueue(ctx, tx, bus.PodCommandSubject(p.Metadata.Namespace), fmt.Sprintf("Pod/%s/update/%d", p.Metadata.Uid, now.UnixNano()), cmd)
}

// ForNode is the pod as the node service should see it: without this view's
// bookkeeping annotation.
func ForNode(p *corev1.Pod) *corev1.Pod {
	if _, ok := p.GetMetadata().GetAnnotations()[observedVersionKey]; !ok {
		return p
	}
	c := proto.Clone(p).(*corev1.Pod)
	delete(c.Metadata.Annotations, observedVersionKey)
	if len(c.Metadata.Annotations) == 0 {
		c.Metadata.Annotations = nil
	}
	return c
}

// claimPods is Kubernetes' ClaimPods: the pods owner controls after adopting
// orphans that match sel and releasing owned pods that no longer match.
func claimPods(ctx context.Context, tx pgx.Tx, owner *corev1.ObjectMeta, ref *corev1.OwnerReference, sel k8slabels.Selector, matchLabels map[string]string, now time.Time) ([]*corev1.Pod, error) {
	all, err := kinds.Pods.List(ctx, tx, store.ListOptions{Namespace: owner.Namespace, OwnerUID: owner.Uid})
	if err != nil {
		return nil, err
	}
	orphans, err := kinds.Pods.List(ctx, tx, store.ListOptions{Namespace: owner.Namespace, Unowned: true, Labels: matchLabels})
	if err != nil {
		return nil, err
	}
	all = append(all, orphans...)
	var out []*corev1.Pod
	for _, p := range all {
		cref := controllerRef(p.Metadata)
		matches := sel.Matches(k8slabels.Set(p.Metadata.GetLabels()))
		switch {
		case cref != nil && cref.GetUid() == owner.Uid:
			if matches || owner.DeletionTimestamp != nil {
				out = append(out, p)
				continue
			}
			DropOwner(p.Metadata, owner.Uid)
			if err := UpdatePodOwners(ctx, tx, p, now); err != nil {
				return nil, err
			}
		case cref == nil && matches && p.Metadata.DeletionTimestamp == nil && owner.DeletionTimestamp == nil:
			p.Metadata.OwnerReferences = append(p.Metadata.OwnerReferences, proto.Clone(ref).(*corev1.OwnerReference))
			if err := UpdatePodOwners(ctx, tx, p, now); err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// DropOwner removes the ownerReferences naming uid; it reports whether one went.
func DropOwner(m *corev1.ObjectMeta, uid string) bool {
	out := m.OwnerReferences[:0]
	dropped := false
	for _, o := range m.OwnerReferences {
		if o.GetUid() == uid {
			dropped = true
			continue
		}
		out = append(out, o)
	}
	m.OwnerReferences = out
	return dropped
}

func controllerRefTo(m *corev1.ObjectMeta) *corev1.OwnerReference {
	t := true
	return &corev1.OwnerReference{ApiVersion: "apps/v1", Kind: "DaemonSet", Name: m.Name, Uid: m.Uid, Controller: &t, BlockOwnerDeletion: &t}
}
