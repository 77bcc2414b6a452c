package controller

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/job/internal/api"
	"github.com/podwarden/podwarden/services/job/internal/kinds"
	"github.com/podwarden/podwarden/services/job/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

const cronComponent = "cronjob-controller"

// syncCronJob is the CronJob controller's syncCronJob: read the CronJob and its Jobs
// from the caches, plan, apply. The Job of a scheduled time is created in the same
// transaction as the status that records it, under a deterministic name: a crash
// before the commit loses nothing, a crash after it cannot start the run twice.
func (c *Controller) syncCronJob(ctx context.Context, key string) error {
	plan, _, err := apply.SyncCached(ctx, c.db, c.in, c.clock.Now, c.caches.CronJobs, kinds.CronJobs, key,
		apply.Owner{APIVersion: "batch/v1", Kind: "CronJob", Component: cronComponent},
		func(cj *jobv1.CronJob, now time.Time) (apply.Plan, error) {
			return c.planCronJob(cj, now), nil
		})
	if err != nil {
		return err
	}
	if plan.Requeue > 0 {
		c.cronJobs.EnqueueAfter(key, plan.Requeue)
	}
	return nil
}

// planCronJob plans from the caches: a Foreground deletion step when cj is being
// deleted (its Jobs are deleted in the foreground, their pods first; the CronJob goes
// after them); else PlanCronJob as writes: the Jobs deleted (Background propagation:
// their pods go by garbage collection), the Job of the scheduled time created (a name
// held by someone else's Job is, as Kubernetes assumes, the run: it is not made
// active), the status, the events.
func (c *Controller) planCronJob(cj *jobv1.CronJob, now time.Time) apply.Plan {
	jobs := c.caches.Jobs.Select(store.ListOptions{Namespace: cj.Metadata.Namespace, OwnerUID: cj.Metadata.Uid})
	if cj.Metadata.DeletionTimestamp != nil {
		return apply.Foreground(kinds.CronJobs, cj, jobs, func(j *jobv1.Job) apply.Write {
			return apply.MarkForeground(kinds.Jobs, j)
		})
	}
	plan := reconcile.PlanCronJob(cj, jobs, now)
	out := apply.Plan{Requeue: plan.RequeueAfter}
	for _, j := range plan.Delete {
		out.Add(apply.Delete(kinds.Jobs, j))
	}
	st := plan.Status
	if j := plan.Create; j != nil {
		api.DefaultJob(j)
		out.Add(apply.Do("create job "+j.Metadata.Namespace+"/"+j.Metadata.Name, func(ctx context.Context, tx pgx.Tx, _ time.Time) error {
			created, err := kinds.Jobs.Create(ctx, tx, j)
			switch {
			case errors.Is(err, store.ErrAlreadyExists):
				// Someone else's Job holds the name: Kubernetes assumes it is the run.
				return nil
			case err != nil:
				return err
			}
			m := created.Metadata
			st.Active = append(st.Active, &corev1.ObjectReference{Kind: "Job", Namespace: m.Namespace,
				Name: m.Name, Uid: m.Uid, ApiVersion: "batch/v1"})
			return nil
		}))
	}
	if plan.Create != nil || !proto.Equal(cj.Status, st) {
		cj.Status = st // cj is the sync's copy; st gets the created Job before this write
		out.Add(apply.Update(kinds.CronJobs, cj))
	}
	for _, e := range plan.Events {
		out.Event(e.Type, e.Reason, e.Message)
	}
	return out
}
