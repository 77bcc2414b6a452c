package controller

import (
	"context"
	"time"

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

// syncStatefulSet is the statefulset controller's sync: read the set, its pods,
// revisions and claims from the caches, claim, plan, apply.
func (c *Controller) syncStatefulSet(ctx context.Context, key string) error {
	var waiting string
	plan, res, err := apply.SyncCached(ctx, c.db, c.in, c.clock.Now, c.caches.StatefulSets, kinds.StatefulSets, key,
		apply.Owner{APIVersion: "apps/v1", Kind: "StatefulSet", Component: component},
		func(set *statefulsetv1.StatefulSet, now time.Time) (plan apply.Plan, err error) {
			plan, waiting = c.planStatefulSet(set, now)
			return plan, nil
		})
	if err != nil {
		return err
	}
	if waiting != "" {
		c.log.Debug("statefulset waits", "statefulset", key, "for", waiting)
	}
	if res.Collision || plan.Again {
		c.sets.Enqueue(key)
	}
	if plan.Requeue > 0 {
		c.sets.EnqueueAfter(key, plan.Requeue)
	}
	return nil
}

// planStatefulSet plans from the caches: a Foreground deletion step when set is
// being deleted; else the adoption and release of pods and revisions when its
// selector calls for them (alone: the next sync plans on them); else its history (a
// new or renumbered revision is the plan's first write), the current revision and
// Decide.
func (c *Controller) planStatefulSet(set *statefulsetv1.StatefulSet, now time.Time) (plan apply.Plan, waiting string) {
	m := set.Metadata
	if m.DeletionTimestamp != nil {
		// The pods go first; the set's revisions and claims follow through
		// garbage collection.
		pods := c.caches.Pods.Select(store.ListOptions{Namespace: m.Namespace, OwnerUID: m.Uid})
		return apply.Foreground(kinds.StatefulSets, set, pods, apply.DeletePod), ""
	}
	s, err := labels.FromProto(set.GetSpec().GetSelector())
	if err != nil || s.Empty() {
		return apply.Plan{}, "" // rejected by the API; nothing to do
	}
	sel := apply.Selector{Matches: s, MatchLabels: set.GetSpec().GetSelector().GetMatchLabels()}
	ref := podview.ControllerRefTo("apps/v1", "StatefulSet", m)
	claimed, claims := apply.ClaimCached(c.caches.Pods, apply.Recheck(kinds.StatefulSets, m), m, ref, sel, apply.UpdatePod)
	revs, revClaims := apply.ClaimCached(c.caches.Revisions, apply.Recheck(kinds.StatefulSets, m), m, ref, sel,
		func(cr *revisions.Revision) apply.Write {
			return apply.Update(kinds.ControllerRevisions, cr)
		})
	if claims.Again || revClaims.Again {
		claims.Add(revClaims.Writes...)
		claims.Again = true
		return claims, ""
	}
	var pods []*corev1.Pod
	for _, p := range claimed {
		if reconcile.IsMemberOf(set, p) {
			pods = append(pods, p)
		}
	}
	byName := c.claimsOf(set, pods)

	hp := reconcile.PlanHistory(set, revs)
	currentName, currentSet, err := reconcile.CurrentRevision(set, revs, hp.Hash)
	if err != nil {
		c.log.Warn("current revision unreadable; using the update revision", "statefulset", m.Namespace+"/"+m.Name, "err", err)
	}
	p := reconcile.Decide(reconcile.Input{Set: set, CurrentSet: currentSet, CurrentRevision: currentName,
		UpdateRevision: hp.Hash, Pods: pods, Claims: byName, Now: now})
	return statefulSetWrites(set, hp, p, pods), p.Waiting
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
		// The resourceVersion read is a precondition: a claim the binder has bound
		// since is a conflict (a retry on the newer claim), never a lost binding.
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

// claimsOf reads from the cache, by name, the claims Decide may look at: the
// templates' claims of every ordinal the set's replicas span and of every pod it has
// (as Kubernetes' StatefulSet controller gets each pod's claims by name, with no look
// at the namespace's other claims).
func (c *Controller) claimsOf(set *statefulsetv1.StatefulSet, pods []*corev1.Pod) map[string]*statefulsetv1.PersistentVolumeClaim {
	templates := set.GetSpec().GetVolumeClaimTemplates()
	if len(templates) == 0 {
		return nil
	}
	out := map[string]*statefulsetv1.PersistentVolumeClaim{}
	add := func(ordinal int) {
		for _, t := range templates {
			name := reconcile.ClaimName(t, set, ordinal)
			if _, seen := out[name]; seen {
				continue
			}
			if cl, ok := c.caches.Claims.Get(set.GetMetadata().GetNamespace(), name); ok {
				out[name] = cl
			}
		}
	}
	start := reconcile.StartOrdinal(set)
	for ord := start; ord < start+int(set.GetSpec().GetReplicas()); ord++ {
		add(ord)
	}
	for _, p := range pods {
		if ord := reconcile.Ordinal(p); ord >= 0 {
			add(ord)
		}
	}
	return out
}
