package controller

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/services/statefulset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

const component = "statefulset-controller"

// syncStatefulSet is the statefulset controller's sync on stored state: read the
// set, claim its pods and revisions, plan, apply, in one transaction.
func (c *Controller) syncStatefulSet(ctx context.Context, key string) error {
	var waiting string
	plan, res, err := apply.Sync(ctx, c.db, c.clock.Now, kinds.StatefulSets, key,
		apply.Owner{APIVersion: "apps/v1", Kind: "StatefulSet", Component: component},
		func(ctx context.Context, tx pgx.Tx, set *statefulsetv1.StatefulSet, now time.Time) (plan apply.Plan, err error) {
			plan, waiting, err = c.planStatefulSet(ctx, tx, set, now)
			return plan, err
		})
	if err != nil {
		return err
	}
	if waiting != "" {
		c.log.Debug("statefulset waits", "statefulset", key, "for", waiting)
	}
	if res.Collision {
		c.sets.Enqueue(key)
	}
	if plan.Requeue > 0 {
		c.sets.EnqueueAfter(key, plan.Requeue)
	}
	return nil
}

// planStatefulSet reads what set's plan needs and plans: a Foreground deletion
// step when set is being deleted, else its history (a new or renumbered
// revision is the plan's first write), the current revision and Decide.
func (c *Controller) planStatefulSet(ctx context.Context, tx pgx.Tx, set *statefulsetv1.StatefulSet, now time.Time) (plan apply.Plan, waiting string, err error) {
	m := set.Metadata
	if m.DeletionTimestamp != nil {
		// The pods go first; the set's revisions and claims follow through
		// garbage collection.
		pods, err := kinds.Pods.List(ctx, tx, store.ListOptions{Namespace: m.Namespace, OwnerUID: m.Uid})
		return apply.Foreground(kinds.StatefulSets, set, pods, apply.DeletePod), "", err
	}
	s, err := labels.FromProto(set.GetSpec().GetSelector())
	if err != nil || s.Empty() {
		return apply.Plan{}, "", nil // rejected by the API; nothing to do
	}
	sel := apply.Selector{Matches: s, MatchLabels: set.GetSpec().GetSelector().GetMatchLabels()}
	ref := podview.ControllerRefTo("apps/v1", "StatefulSet", m)
	claimed, err := apply.ClaimPods(ctx, tx, now, m, ref, sel)
	if err != nil {
		return apply.Plan{}, "", err
	}
	var pods []*corev1.Pod
	for _, p := range claimed {
		if reconcile.IsMemberOf(set, p) {
			pods = append(pods, p)
		}
	}
	revs, err := apply.ClaimObjects(ctx, tx, now, kinds.ControllerRevisions, m, ref, sel,
		func(cr *revisions.Revision) apply.Write {
			return apply.Update(kinds.ControllerRevisions, cr)
		})
	if err != nil {
		return apply.Plan{}, "", err
	}
	claims, err := kinds.Claims.List(ctx, tx, store.ListOptions{Namespace: m.Namespace, Labels: sel.MatchLabels})
	if err != nil {
		return apply.Plan{}, "", err
	}
	byName := make(map[string]*statefulsetv1.PersistentVolumeClaim, len(claims))
	for _, cl := range claims {
		byName[cl.Metadata.Name] = cl
	}

	hp := reconcile.PlanHistory(set, revs)
	currentName, currentSet, err := reconcile.CurrentRevision(set, revs, hp.Hash)
	if err != nil {
		c.log.Warn("current revision unreadable; using the update revision", "statefulset", m.Namespace+"/"+m.Name, "err", err)
	}
	p := reconcile.Decide(reconcile.Input{Set: set, CurrentSet: currentSet, CurrentRevision: currentName,
		UpdateRevision: hp.Hash, Pods: pods, Claims: byName, Now: now})
	return statefulSetWrites(set, hp, p, pods), p.Waiting, nil
}

// statefulSetWrites is a sync's plan as writes: the history first (a new
// revision, its name taken a hash collision, or the renumbered current one),
// claims before the pods that mount them, the pods, the status, and the
// history beyond revisionHistoryLimit.
func statefulSetWrites(set *statefulsetv1.StatefulSet, hp reconcile.HistoryPlan, p reconcile.Plan, pods []*corev1.Pod) apply.Plan {
	out := apply.Plan{Requeue: p.Requeue}
	out.Add(hp.Writes(apply.CountCollision(kinds.StatefulSets, set))...)
	for _, cl := range p.CreateClaims {
		out.Add(apply.Create(kinds.Claims, cl).IgnoreExists())
	}
	for _, cl := range p.UpdateClaims {
		cl.Metadata.ResourceVersion = ""
		out.Add(apply.Update(kinds.Claims, cl).IgnoreNotFound())
	}
	for _, pod := range p.CreatePods {
		out.Add(apply.CreatePod(pod))
	}
	for _, pod := range p.UpdatePods {
		out.Add(apply.UpdatePod(pod))
	}
	for _, pod := range p.DeletePods {
		out.Add(apply.DeletePod(pod))
	}
	if !proto.Equal(set.Status, p.Status) {
		set = proto.Clone(set).(*statefulsetv1.StatefulSet) // a collision counts on the stored status
		set.Status = p.Status
		out.Add(apply.Update(kinds.StatefulSets, set))
	}
	var old []*revisions.Revision
	for _, cr := range hp.Old {
		if cr.GetMetadata().GetName() != p.Status.GetCurrentRevision() {
			old = append(old, cr)
		}
	}
	out.Add(revisions.Deletes(reconcile.HistoryToDelete(set, old, pods))...)
	for _, e := range p.Events {
		out.Event(e.Type, e.Reason, e.Message)
	}
	return out
}
