package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/job/internal/api"
	"github.com/podwarden/podwarden/services/job/internal/kinds"
	"github.com/podwarden/podwarden/services/job/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

const cronComponent = "cronjob-controller"

// syncCronJob is the CronJob controller's syncCronJob on stored state. The Job
// of a scheduled time is created in the same transaction as the status that
// records it, under a deterministic name: a crash before the commit loses
// nothing, a crash after it cannot start the run twice.
func (c *Controller) syncCronJob(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	var requeue time.Duration
	gc := false
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		cj, err := kinds.CronJobs.Get(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := c.clock.Now()
		jobs, err := ownedJobs(ctx, tx, cj)
		if err != nil {
			return err
		}
		if cj.Metadata.DeletionTimestamp != nil {
			// Foreground deletion: the Jobs are deleted in the foreground (their
			// pods first), the CronJob goes after them.
			_, err := apply.Apply(ctx, tx, now, apply.Owner{}, apply.Foreground(kinds.CronJobs, cj, jobs, func(j *jobv1.Job) apply.Write {
				return apply.MarkForeground(kinds.Jobs, j)
			}))
			return err
		}
		plan := reconcile.PlanCronJob(cj, jobs, now)
		for _, j := range plan.Delete {
			// Background propagation: the Job goes now, its pods by garbage collection.
			if _, err := kinds.Jobs.Delete(ctx, tx, ns, j.Metadata.Name, j.Metadata.Uid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("delete job %s: %w", j.Metadata.Name, err)
			}
			gc = true
		}
		if j := plan.Create; j != nil {
			api.DefaultJob(j)
			created, err := kinds.Jobs.Create(ctx, tx, j)
			switch {
			case errors.Is(err, store.ErrAlreadyExists):
				// Someone else's Job holds the name: Kubernetes assumes it is the run.
			case err != nil:
				return fmt.Errorf("create job %s: %w", j.Metadata.Name, err)
			default:
				m := created.Metadata
				plan.Status.Active = append(plan.Status.Active, &corev1.ObjectReference{Kind: "Job", Namespace: m.Namespace,
					Name: m.Name, Uid: m.Uid, ApiVersion: "batch/v1"})
			}
		}
		if !proto.Equal(cj.Status, plan.Status) {
			cj.Status = plan.Status
			cj.Metadata.ResourceVersion = ""
			if _, err := kinds.CronJobs.Update(ctx, tx, cj); err != nil {
				return fmt.Errorf("update cronjob status %s: %w", key, err)
			}
		}
		ref := events.Ref("batch/v1", "CronJob", cj.Metadata)
		for _, e := range plan.Events {
			if err := events.Record(ctx, tx, now, cronComponent, ref, e.Type, e.Reason, e.Message); err != nil {
				return err
			}
		}
		requeue = plan.RequeueAfter
		return nil
	})
	if err != nil {
		return err
	}
	if requeue > 0 {
		c.cronJobs.EnqueueAfter(key, requeue)
	}
	if gc {
		c.gc.EnqueueAfter(gcKey, gcDelay)
	}
	return nil
}
