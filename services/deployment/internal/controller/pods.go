package controller

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/services/deployment/internal/reconcile"
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

// ownerKey is what a pod event wakes: its controller's kind and "namespace/name".
type ownerKey struct{ kind, key string }

func ownerOf(p *corev1.Pod) (ownerKey, bool) {
	ref := reconcile.ControllerRef(p.GetMetadata())
	if ref == nil {
		return ownerKey{}, false
	}
	return ownerKey{kind: ref.GetKind(), key: p.Metadata.Namespace + "/" + ref.GetName()}, true
}

// handlePodEvents applies a batch of the node service's pod events to this service's
// pod view in one transaction, then wakes the owners.
func (c *Controller) handlePodEvents(ctx context.Context, msgs []bus.Received) error {
	owners := map[ownerKey]bool{}
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
		c.enqueueOwner(o)
	}
	return nil
}

func (c *Controller) enqueueOwner(o ownerKey) {
	switch o.kind {
	case "ReplicaSet":
		c.replicaSets.Enqueue(o.key)
	case "ReplicationController":
		c.rcs.Enqueue(o.key)
	}
}

// applyPodEvent merges one event into the view. The node service is the truth for a
// pod's status, node, labels and deletion; this service for its ownerReferences.
func applyPodEvent(ctx context.Context, tx pgx.Tx, ev *eventsv1.PodEvent) ([]ownerKey, error) {
	p := ev.GetPod()
	m := p.GetMetadata()
	var woken []ownerKey
	if o, ok := ownerOf(p); ok {
		woken = append(woken, o)
	}
	cur, err := kinds.Pods.GetForUpdate(ctx, tx, m.GetNamespace(), m.GetName())
	if errors.Is(err, store.ErrNotFound) {
		if ev.GetType() == eventsv1.PodEvent_TYPE_DELETED {
			return woken, tombstone(ctx, tx, m.GetUid())
		}
		var dead int
		err := tx.QueryRow(ctx, "SELECT 1 FROM pod_tombstones WHERE uid=$1", m.GetUid()).Scan(&dead)
		if err == nil {
			return woken, nil // a late event about a pod already deleted
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		// A pod this view does not hold: keep it only if it is unowned (a candidate
		// for adoption) or its owner is one of ours.
		if ref := reconcile.ControllerRef(m); ref != nil {
			var one int
			err := tx.QueryRow(ctx, "SELECT 1 FROM objects WHERE uid=$1", ref.GetUid()).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, nil
			} else if err != nil {
				return nil, err
			}
		}
		np := proto.Clone(p).(*corev1.Pod)
		np.Metadata.ResourceVersion = ""
		setObservedVersion(np, ev.GetVersion())
		_, err = kinds.Pods.Create(ctx, tx, np)
		if errors.Is(err, store.ErrAlreadyExists) {
			return woken, nil
		}
		return woken, err
	}
	if err != nil {
		return nil, err
	}
	if o, ok := ownerOf(cur); ok {
		woken = append(woken, o)
	}
	if cur.Metadata.Uid != m.GetUid() || observedVersion(cur) >= ev.GetVersion() {
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
	setObservedVersion(cur, ev.GetVersion())
	cur.Metadata.ResourceVersion = ""
	_, err = kinds.Pods.Update(ctx, tx, cur)
	return woken, err
}

func tombstone(ctx context.Context, tx pgx.Tx, uid string) error {
	_, err := tx.Exec(ctx, "INSERT INTO pod_tombstones (uid) VALUES ($1) ON CONFLICT DO NOTHING", uid)
	return err
}

// createPod stores a pod of the view and, in the same transaction, the command that
// asks the node service for it.
func createPod(ctx context.Context, tx pgx.Tx, p *corev1.Pod) error {
	created, err := kinds.Pods.Create(ctx, tx, p)
	if err != nil {
		return fmt.Errorf("create pod %s/%s: %w", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), err)
	}
	cmd := &eventsv1.PodCommand{Op: eventsv1.PodCommand_OP_CREATE, Pod: created}
	return store.Enqueue(ctx, tx, bus.PodCommandSubject(created.Metadata.Namespace), "Pod/"+created.Metadata.Uid+"/create", cmd)
}

// deletePod marks a pod of the view as terminating and asks the node service to
// delete it; the row goes when the node service reports it DELETED.
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

// resendPodCommand publishes a command for a pod of the view again, with a fresh
// message id (the first one may still be in JetStream's deduplication window).
func resendPodCommand(ctx context.Context, tx pgx.Tx, p *corev1.Pod, op eventsv1.PodCommand_Op, now time.Time) error {
	cmd := &eventsv1.PodCommand{Op: op, Pod: ForNode(p)}
	msgID := fmt.Sprintf("Pod/%s/%s/retry/%d", p.Metadata.Uid, strings.ToLower(strings.TrimPrefix(op.String(), "OP_")), now.UnixNano())
	return store.Enqueue(ctx, tx, bus.PodCommandSubject(p.Metadata.Namespace), msgID, cmd)
}

// updatePodOwners stores new ownerReferences of a pod and tells the node service.
func updatePodOwners(ctx context.Context, tx pgx.Tx, p *corev1.Pod, now time.Time) error {
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

// OrphanPods releases the pods of owner (a Delete with propagationPolicy Orphan): their
// ownerReference to it goes, in this view and, through a pod UPDATE command, in the
// node service. It runs in the deleting transaction.
func OrphanPods(ctx context.Context, tx pgx.Tx, owner *corev1.ObjectMeta, now time.Time) error {
	pods, err := kinds.Pods.List(ctx, tx, store.ListOptions{Namespace: owner.Namespace, OwnerUID: owner.Uid})
	if err != nil {
		return err
	}
	for _, p := range pods {
		dropOwner(p.Metadata, owner.Uid)
		if err := updatePodOwners(ctx, tx, p, now); err != nil {
			return err
		}
	}
	return nil
}

// claimPods is Kubernetes' ClaimPods: it returns the pods owner controls after
// adopting orphans that match sel and releasing owned pods that no longer match.
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
		cref := reconcile.ControllerRef(p.Metadata)
		matches := sel.Matches(k8slabels.Set(p.Metadata.GetLabels()))
		switch {
		case cref != nil && cref.GetUid() == owner.Uid:
			if matches || owner.DeletionTimestamp != nil {
				out = append(out, p)
				continue
			}
			// Released: no longer matches the selector.
			dropOwner(p.Metadata, owner.Uid)
			if err := updatePodOwners(ctx, tx, p, now); err != nil {
				return nil, err
			}
		case cref == nil && matches && p.Metadata.DeletionTimestamp == nil && owner.DeletionTimestamp == nil:
			p.Metadata.OwnerReferences = append(p.Metadata.OwnerReferences, proto.Clone(ref).(*corev1.OwnerReference))
			if err := updatePodOwners(ctx, tx, p, now); err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func dropOwner(m *corev1.ObjectMeta, uid string) {
	out := m.OwnerReferences[:0]
	for _, o := range m.OwnerReferences {
		if o.GetUid() != uid {
			out = append(out, o)
		}
	}
	m.OwnerReferences = out
}

func controllerRefTo(apiVersion, kind string, m *corev1.ObjectMeta) *corev1.OwnerReference {
	t := true
	return &corev1.OwnerReference{ApiVersion: apiVersion, Kind: kind, Name: m.Name, Uid: m.Uid, Controller: &t, BlockOwnerDeletion: &t}
}
