// Package controller runs the job service's reconcile loops: Jobs, CronJobs and
// garbage collection, each a level-triggered sync over stored state, plus the
// consumer of the node service's pod events.
package controller

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/podwarden/podwarden/services/job/internal/kinds"
	"github.com/podwarden/podwarden/services/job/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/naming"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// Caches are the watch caches the loops read (the API's own, so objects are decoded
// once for both) and the pod view's.
type Caches struct {
	Jobs     *watch.Cache[*jobv1.Job]
	CronJobs *watch.Cache[*jobv1.CronJob]
	Pods     *watch.Cache[*corev1.Pod]
}

// Config tunes the loops.
type Config struct {
	Workers int
	Resync  time.Duration
	// BackOff is the pod failure back-off of Jobs (default reconcile.DefaultBackOff);
	// ttlSecondsAfterFinished is scaled with it.
	BackOff reconcile.BackOff
	// SyncBatchPeriod is how long a pod's change waits before its Job syncs, so that
	// the changes of a Job's pods meanwhile share one sync and one status write
	// (Kubernetes' syncJobBatchPeriod, 1s, the default here too; negative: none). A
	// change of the Job itself syncs it at once.
	SyncBatchPeriod time.Duration
}

// SyncJobBatchPeriod is Kubernetes' job controller's syncJobBatchPeriod.
const SyncJobBatchPeriod = time.Second

// Controller owns the loops of the service.
type Controller struct {
	db     *store.DB
	bus    *bus.Bus
	log    *slog.Logger
	clock  clock.Clock
	in     *apply.Informer
	caches Caches

	jobs     *controller.Controller
	cronJobs *controller.Controller
	gc       *controller.Controller

	planner     reconcile.JobPlanner
	batchPeriod time.Duration
}

// New builds the loops over the caches fed by hub; they run in Run.
func New(db *store.DB, b *bus.Bus, hub *watch.Hub, caches Caches, log *slog.Logger, clk clock.Clock, cfg Config) *Controller {
	if cfg.BackOff.Base <= 0 {
		cfg.BackOff = reconcile.DefaultBackOff
	}
	if cfg.SyncBatchPeriod == 0 {
		cfg.SyncBatchPeriod = SyncJobBatchPeriod
	}
	c := &Controller{db: db, bus: b, log: log, clock: clk, batchPeriod: max(cfg.SyncBatchPeriod, 0), in: apply.NewInformer(hub, caches.Jobs, caches.Pods), caches: caches,
		planner: reconcile.JobPlanner{BackOff: cfg.BackOff, Name: naming.GenerateName}}
	c.jobs = controller.New(controller.Config{Name: "job", Workers: cfg.Workers, Sync: c.syncJob,
		List: keysOf(db, kinds.Jobs), Resync: cfg.Resync, Log: log})
	c.cronJobs = controller.New(controller.Config{Name: "cronjob", Workers: cfg.Workers, Sync: c.syncCronJob,
		List: keysOf(db, kinds.CronJobs), Resync: cfg.Resync, Log: log})
	c.gc = controller.New(controller.Config{Name: "garbagecollector", Workers: 1, SyncBatch: apply.GCBatch(c.collectGarbage),
		List: apply.GCKeys, Resync: cfg.Resync, Log: log})
	c.watchCaches()
	return c
}

// keysOf lists "namespace/name" of every object of a kind, for resyncs.
func keysOf[T store.Object](db *store.DB, kind store.Kind[T]) controller.ListFunc {
	return func(ctx context.Context) ([]string, error) { return kind.Keys(ctx, db.Pool) }
}

// watchCaches wakes the loops from the caches (client-go's event handlers, as
// Kubernetes' job and cronjob controllers register them): a sync woken by a change
// reads a cache that holds it. A Job's change wakes it and its CronJob (the former
// one too on a change of controller; an orphan Job wakes no CronJob); a CronJob's
// wakes it; a pod's wakes its Job after the batch period (the former one too on a
// change of controller), and an orphan added or relabelled wakes the Jobs of its
// namespace that select it (to adopt it). Deletions and dependents of missing owners
// wake the garbage collector.
func (c *Controller) watchCaches() {
	cronJobCached, jobCached := apply.CachedIn("CronJob", c.caches.CronJobs), apply.CachedIn("Job", c.caches.Jobs)
	c.caches.Jobs.OnChange(func(e watch.Event[*jobv1.Job]) {
		c.jobs.Enqueue(e.Key)
		apply.EnqueueDependents(e, c.gc.Enqueue)
		apply.EnqueueIfOrphan(e, c.gc.Enqueue, cronJobCached)
		apply.EnqueueOwners(e, "CronJob", c.cronJobs.Enqueue, nil)
	})
	c.caches.CronJobs.OnChange(func(e watch.Event[*jobv1.CronJob]) {
		c.cronJobs.Enqueue(e.Key)
		apply.EnqueueDependents(e, c.gc.Enqueue)
	})
	batched := func(key string) { c.jobs.EnqueueAfter(key, c.batchPeriod) }
	c.caches.Pods.OnChange(func(e watch.Event[*corev1.Pod]) {
		apply.EnqueueIfOrphan(e, c.gc.Enqueue, jobCached)
		apply.EnqueueOwners(e, "Job", batched, func(p *corev1.Pod) []string {
			return apply.Selecting(c.caches.Jobs, func(j *jobv1.Job) *corev1.LabelSelector { return j.GetSpec().GetSelector() }, p)
		})
	})
}

// Run runs every loop and the pod event consumer until ctx ends (one leadership term).
func (c *Controller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range []*controller.Controller{c.jobs, c.cronJobs, c.gc} {
		wg.Add(1)
		go func() { defer wg.Done(); l.Run(ctx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.bus.ConsumeUntilDone(ctx, c.log, bus.ConsumerConfig{
			Stream: bus.StreamPodEvents, Durable: "job", Filters: []string{bus.PodEventSubject("Job"), bus.PodEventSubject("")},
		}, c.handlePodEvents)
	}()
	wg.Wait()
}

func splitKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}
