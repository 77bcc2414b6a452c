package controller

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/job/internal/kinds"
	"github.com/podwarden/podwarden/services/job/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

const jobComponent = "job-controller"

// syncJob is the job controller's syncJob: read the Job and its pods from the
// caches, claim, plan, apply.
func (c *Controller) syncJob(ctx context.Context, key string) error {
	plan, _, err := apply.SyncCached(ctx, c.db, c.in, c.clock.Now, c.caches.Jobs, kinds.Jobs, key,
		apply.Owner{APIVersion: "batch/v1", Kind: "Job", Component: jobComponent},
		func(j *jobv1.Job, now time.Time) (apply.Plan, error) {
			return c.planJob(j, now), nil
		})
	if err != nil {
		return err
	}
	if plan.Again {
		c.jobs.Enqueue(key)
	}
	if plan.Requeue > 0 {
		c.jobs.EnqueueAfter(key, plan.Requeue)
	}
	return nil
}

// planJob plans from the caches: a Foreground deletion step when j is being deleted;
// else Kubernetes' getPodsForJob (claim: adopt the orphans its selector matches,
// release the pods it no longer matches, applied alone: the next sync plans on them;
// a finished Job claims nothing, its syncJob stops before) and the plan.
func (c *Controller) planJob(j *jobv1.Job, now time.Time) apply.Plan {
	m := j.Metadata
	if m.DeletionTimestamp != nil {
		pods := c.caches.Pods.Select(store.ListOptions{Namespace: m.Namespace, OwnerUID: m.Uid})
		return apply.Foreground(kinds.Jobs, j, pods, apply.DeletePod)
	}
	var pods []*corev1.Pod
	sel, err := labels.FromProto(j.GetSpec().GetSelector())
	if err == nil && !sel.Empty() && !reconcile.IsFinished(j) {
		var claims apply.Plan
		pods, claims = apply.ClaimCached(c.caches.Pods, apply.Recheck(kinds.Jobs, m), m, podview.ControllerRefTo("batch/v1", "Job", m),
			apply.Selector{Matches: sel, MatchLabels: j.GetSpec().GetSelector().GetMatchLabels()}, apply.UpdatePod)
		if claims.Again {
			return claims
		}
	} else {
		pods = c.caches.Pods.Select(store.ListOptions{Namespace: m.Namespace, OwnerUID: m.Uid})
	}
	return jobWrites(j, pods, c.planner.Plan(j, pods, now))
}

// jobWrites is a JobPlan as writes: the counted marks (in the view only), then
// either the Job's deletion with its pods (ttlSecondsAfterFinished) or the pods
// created and deleted, the status and the events. A counted pod is deleted with
// its mark.
func jobWrites(j *jobv1.Job, pods []*corev1.Pod, p reconcile.JobPlan) apply.Plan {
	out := apply.Plan{Requeue: p.RequeueAfter}
	counted := map[string]*corev1.Pod{}
	for _, pod := range p.Counted {
		// A copy (markCounted) with the resourceVersion read: a pod event applied
		// since is a conflict (a retry on the newer pod), never overwritten.
		out.Add(apply.Update(kinds.Pods, pod))
		counted[pod.Metadata.Uid] = pod
	}
	withMark := func(pod *corev1.Pod) *corev1.Pod {
		if cp := counted[pod.Metadata.Uid]; cp != nil {
			return cp
		}
		return pod
	}
	if p.DeleteJob {
		for _, pod := range pods {
			out.Add(apply.DeletePod(withMark(pod)))
		}
		out.Add(apply.Delete(kinds.Jobs, j))
		return apply.Plan{Writes: out.Writes} // nothing to record on a Job that is gone
	}
	for _, pod := range p.Create {
		out.Add(apply.CreatePod(pod))
	}
	for _, pod := range p.Delete {
		out.Add(apply.DeletePod(withMark(pod)))
	}
	if !proto.Equal(j.Status, p.Status) {
		j = proto.Clone(j).(*jobv1.Job)
		j.Status = p.Status // over the resourceVersion read: a spec changed since is a conflict
		out.Add(apply.Update(kinds.Jobs, j))
	}
	for _, e := range p.Events {
		out.Event(e.Type, e.Reason, e.Message)
	}
	return out
}

// collectGarbage deletes what a Background deletion left behind, in the scope of
// the keys waiting together: Jobs whose CronJob is gone, then pods whose Job is gone
// (the Jobs deleted here wake it again for theirs). A repair key also repairs the pod
// view (lost commands, old tombstones).
func (c *Controller) collectGarbage(ctx context.Context, s apply.GCScope) error {
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		now := c.clock.Now()
		if s.Repair {
			if err := apply.RepairPods(ctx, tx, now, view, c.caches.Pods); err != nil {
				return err
			}
		}
		if _, err := apply.CollectGarbage(ctx, tx, now, kinds.Jobs, s); err != nil {
			return err
		}
		return apply.CollectPods(ctx, tx, now, s)
	})
}
