package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/services/statefulset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

const component = "statefulset-controller"

// syncStatefulSet is the statefulset controller's sync on stored state, in one
// transaction: claim pods and revisions, the history, the plan, then its claims,
// pods (with their commands), status, events and the history clean-up.
func (c *Controller) syncStatefulSet(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	var requeue time.Duration
	again := false
	var waiting string
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		set, err := kinds.StatefulSets.Get(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := c.clock.Now()
		sel, err := labels.FromProto(set.GetSpec().GetSelector())
		if err != nil || sel.Empty() {
			return nil // rejected by the API; nothing to do
		}
		matchLabels := set.GetSpec().GetSelector().GetMatchLabels()
		claimed, err := podview.Claim(ctx, tx, set.Metadata, podview.ControllerRefTo("apps/v1", "StatefulSet", set.Metadata), sel, matchLabels, now)
		if err != nil {
			return err
		}
		var pods []*corev1.Pod
		for _, p := range claimed {
			if reconcile.IsMemberOf(set, p) {
				pods = append(pods, p)
			}
		}
		if set.Metadata.DeletionTimestamp != nil {
			return c.deleteForeground(ctx, tx, set, pods, now)
		}
		owned, err := claimRevisions(ctx, tx, set, sel, matchLabels)
		if err != nil {
			return err
		}
		hp := reconcile.PlanHistory(set, owned)
		// A hash collision with a revision of another template is counted in
		// status.collisionCount, so the next sync names the revision differently.
		created, collided, err := revisions.Write(ctx, tx, hp, func() error { return revisions.CountCollision(ctx, tx, kinds.StatefulSets, set) })
		if err != nil || collided {
			again = collided
			return err
		}
		if hp.Create != nil {
			owned = append(owned, created)
		}
		currentName, currentSet := hp.Hash, set
		for _, cr := range owned {
			if n := cr.GetMetadata().GetName(); n == set.GetStatus().GetCurrentRevision() && n != hp.Hash {
				t, err := reconcile.TemplateOf(cr)
				if err != nil {
					c.log.Warn("current revision unreadable; using the update revision", "statefulset", key, "err", err)
					break
				}
				currentName = n
				currentSet = proto.Clone(set).(*statefulsetv1.StatefulSet)
				currentSet.Spec.Template = t
			}
		}
		claims, err := kinds.Claims.List(ctx, tx, store.ListOptions{Namespace: ns, Labels: matchLabels})
		if err != nil {
			return err
		}
		byName := make(map[string]*statefulsetv1.PersistentVolumeClaim, len(claims))
		for _, cl := range claims {
			byName[cl.Metadata.Name] = cl
		}
		plan := reconcile.Decide(reconcile.Input{Set: set, CurrentSet: currentSet, CurrentRevision: currentName,
			UpdateRevision: hp.Hash, Pods: pods, Claims: byName, Now: now})
		if err := c.apply(ctx, tx, set, plan, now); err != nil {
			return err
		}
		if !proto.Equal(set.Status, plan.Status) {
			set.Status = plan.Status
			if _, err := kinds.StatefulSets.Update(ctx, tx, set); err != nil {
				return fmt.Errorf("update stateful set status: %w", err)
			}
		}
		var old []*revisions.Revision
		for _, cr := range hp.Old {
			if cr.GetMetadata().GetName() != plan.Status.GetCurrentRevision() {
				old = append(old, cr)
			}
		}
		if err := revisions.Truncate(ctx, tx, reconcile.HistoryToDelete(set, old, pods)); err != nil {
			return err
		}
		requeue, waiting = plan.Requeue, plan.Waiting
		return nil
	})
	if err != nil {
		return err
	}
	if waiting != "" {
		c.log.Debug("statefulset waits", "statefulset", key, "for", waiting)
	}
	if again {
		c.sets.Enqueue(key)
	}
	if requeue > 0 {
		c.sets.EnqueueAfter(key, requeue)
	}
	return nil
}

// apply carries out a plan: claims before the pods that mount them.
func (c *Controller) apply(ctx context.Context, tx pgx.Tx, set *statefulsetv1.StatefulSet, plan reconcile.Plan, now time.Time) error {
	for _, cl := range plan.CreateClaims {
		if _, err := kinds.Claims.Create(ctx, tx, cl); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("create claim %s: %w", cl.Metadata.Name, err)
		}
	}
	for _, cl := range plan.UpdateClaims {
		cl.Metadata.ResourceVersion = ""
		if _, err := kinds.Claims.Update(ctx, tx, cl); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("update claim %s: %w", cl.Metadata.Name, err)
		}
	}
	for _, p := range plan.CreatePods {
		if _, err := podview.Create(ctx, tx, p); err != nil {
			return err
		}
	}
	for _, p := range plan.UpdatePods {
		if err := podview.Update(ctx, tx, p, now); err != nil {
			return err
		}
	}
	for _, p := range plan.DeletePods {
		if err := podview.Delete(ctx, tx, p, now); err != nil {
			return err
		}
	}
	ref := events.Ref("apps/v1", "StatefulSet", set.Metadata)
	for _, e := range plan.Events {
		if err := events.Record(ctx, tx, now, component, ref, e.Type, e.Reason, e.Message); err != nil {
			return err
		}
	}
	return nil
}

// claimRevisions is the revision half of ClaimRevisions: set's revisions, after
// adopting orphaned ones its selector matches (left by an orphaning delete) and
// releasing owned ones it no longer matches.
func claimRevisions(ctx context.Context, tx pgx.Tx, set *statefulsetv1.StatefulSet, sel k8slabels.Selector, matchLabels map[string]string) ([]*revisions.Revision, error) {
	m := set.Metadata
	owned, err := kinds.ControllerRevisions.List(ctx, tx, store.ListOptions{Namespace: m.Namespace, OwnerUID: m.Uid})
	if err != nil {
		return nil, err
	}
	orphans, err := kinds.ControllerRevisions.List(ctx, tx, store.ListOptions{Namespace: m.Namespace, Unowned: true, Labels: matchLabels})
	if err != nil {
		return nil, err
	}
	var out []*revisions.Revision
	for _, cr := range owned {
		if sel.Matches(k8slabels.Set(cr.Metadata.GetLabels())) {
			out = append(out, cr)
			continue
		}
		podview.DropOwner(cr.Metadata, m.Uid)
		cr.Metadata.ResourceVersion = ""
		if _, err := kinds.ControllerRevisions.Update(ctx, tx, cr); err != nil {
			return nil, err
		}
	}
	for _, cr := range orphans {
		if !sel.Matches(k8slabels.Set(cr.Metadata.GetLabels())) {
			continue
		}
		cr.Metadata.OwnerReferences = append(cr.Metadata.OwnerReferences, podview.ControllerRefTo("apps/v1", "StatefulSet", m))
		cr.Metadata.ResourceVersion = ""
		updated, err := kinds.ControllerRevisions.Update(ctx, tx, cr)
		if err != nil {
			return nil, err
		}
		out = append(out, updated)
	}
	return out, nil
}

// deleteForeground carries out a Foreground deletion: the pods go first, then the
// StatefulSet (its revisions and claims follow through garbage collection).
func (c *Controller) deleteForeground(ctx context.Context, tx pgx.Tx, set *statefulsetv1.StatefulSet, pods []*corev1.Pod, now time.Time) error {
	for _, p := range pods {
		if err := podview.Delete(ctx, tx, p, now); err != nil {
			return err
		}
	}
	if len(pods) > 0 || !crud.HasFinalizer(set.Metadata, crud.FinalizerForeground) {
		return nil
	}
	_, err := kinds.StatefulSets.Delete(ctx, tx, set.Metadata.Namespace, set.Metadata.Name, set.Metadata.Uid)
	return err
}
