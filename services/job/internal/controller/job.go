package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/job/internal/kinds"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

const jobComponent = "job-controller"

// syncJob is the job controller's syncJob on stored state: plan from the Job
// and its pod view, and in the same transaction store the new pods, the
// deletions, the commands for the node service, the counted marks, the status
// and the events.
func (c *Controller) syncJob(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	var requeue time.Duration
	var cronJob string
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		j, err := kinds.Jobs.Get(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if ref := podutil.GetControllerOf(j.Metadata); ref != nil && ref.GetKind() == "CronJob" {
			cronJob = ns + "/" + ref.GetName()
		}
		now := c.clock.Now()
		pods, err := kinds.Pods.List(ctx, tx, store.ListOptions{Namespace: ns, OwnerUID: j.Metadata.Uid})
		if err != nil {
			return err
		}
		if j.Metadata.DeletionTimestamp != nil {
			// Foreground deletion: the pods go first, then the Job.
			live := 0
			for _, p := range pods {
				if err := podview.Delete(ctx, tx, p, now); err != nil {
					return err
				}
				live++
			}
			if live == 0 && crud.HasFinalizer(j.Metadata, crud.FinalizerForeground) {
				_, err := kinds.Jobs.Delete(ctx, tx, ns, name, j.Metadata.Uid)
				return err
			}
			return nil
		}
		plan := c.planner.Plan(j, pods, now)
		ref := events.Ref("batch/v1", "Job", j.Metadata)
		record := func(typ, reason, msg string) error {
			return events.Record(ctx, tx, now, jobComponent, ref, typ, reason, msg)
		}
		counted := map[string]*corev1.Pod{}
		for _, p := range plan.Counted {
			p.Metadata.ResourceVersion = ""
			if _, err := kinds.Pods.Update(ctx, tx, p); err != nil {
				return fmt.Errorf("count pod %s: %w", p.Metadata.Name, err)
			}
			counted[p.Metadata.Uid] = p
		}
		if plan.DeleteJob {
			// ttlSecondsAfterFinished: the Job and its pods are deleted.
			for _, p := range pods {
				if cp := counted[p.Metadata.Uid]; cp != nil {
					p = cp
				}
				if err := podview.Delete(ctx, tx, p, now); err != nil {
					return err
				}
			}
			_, err := kinds.Jobs.Delete(ctx, tx, ns, name, j.Metadata.Uid)
			return err
		}
		for _, p := range plan.Create {
			created, err := podview.Create(ctx, tx, p)
			if err != nil {
				return err
			}
			if err := record("Normal", "SuccessfulCreate", "Created pod: "+created.Metadata.Name); err != nil {
				return err
			}
		}
		for _, p := range plan.Delete {
			if cp := counted[p.Metadata.Uid]; cp != nil {
				p = cp
			}
			if err := podview.Delete(ctx, tx, p, now); err != nil {
				return err
			}
		}
		if !proto.Equal(j.Status, plan.Status) {
			j.Status = plan.Status
			j.Metadata.ResourceVersion = ""
			if _, err := kinds.Jobs.Update(ctx, tx, j); err != nil {
				return fmt.Errorf("update job status %s: %w", key, err)
			}
		}
		for _, e := range plan.Events {
			if err := record(e.Type, e.Reason, e.Message); err != nil {
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
		c.jobs.EnqueueAfter(key, requeue)
	}
	if cronJob != "" {
		c.cronJobs.Enqueue(cronJob)
	}
	return nil
}

const (
	// gcKey is enqueued (debounced by gcDelay) on every Job and CronJob change;
	// repairKey only by the periodic resync.
	gcKey     = "gc"
	repairKey = "repair"
	gcDelay   = 100 * time.Millisecond
)

// collectGarbage deletes what a Background deletion left behind: Jobs whose
// CronJob is gone, then pods whose Job is gone. On repairKey it repairs the pod
// view instead (lost commands, old tombstones).
func (c *Controller) collectGarbage(ctx context.Context, key string) error {
	if key == repairKey {
		return c.db.InTx(ctx, func(tx pgx.Tx) error { return view.Repair(ctx, tx, c.clock.Now()) })
	}
	again := false
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		now := c.clock.Now()
		jobs, err := kinds.Jobs.Orphans(ctx, tx)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if _, err := kinds.Jobs.Delete(ctx, tx, j.Metadata.Namespace, j.Metadata.Name, j.Metadata.Uid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			again = true
		}
		return podview.CollectGarbage(ctx, tx, now)
	})
	if err == nil && again {
		c.gc.EnqueueAfter(gcKey, gcDelay)
	}
	return err
}

// ownedJobs lists the Jobs a CronJob controls.
func ownedJobs(ctx context.Context, tx pgx.Tx, cj *jobv1.CronJob) ([]*jobv1.Job, error) {
	return kinds.Jobs.List(ctx, tx, store.ListOptions{Namespace: cj.Metadata.Namespace, OwnerUID: cj.Metadata.Uid})
}
