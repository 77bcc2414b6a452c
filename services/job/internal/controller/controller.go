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
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/naming"
	"github.com/podwarden/podwarden/shared/store"
)

// Config tunes the loops.
type Config struct {
	Workers int
	Resync  time.Duration
	// BackOff is the pod failure back-off of Jobs (default reconcile.DefaultBackOff);
	// ttlSecondsAfterFinished is scaled with it.
	BackOff reconcile.BackOff
}

// Controller owns the loops of the service.
type Controller struct {
	db    *store.DB
	bus   *bus.Bus
	log   *slog.Logger
	clock clock.Clock

	jobs     *controller.Controller
	cronJobs *controller.Controller
	gc       *controller.Controller

	planner reconcile.JobPlanner
}

// New builds the loops; they run in Run.
func New(db *store.DB, b *bus.Bus, log *slog.Logger, clk clock.Clock, cfg Config) *Controller {
	if cfg.BackOff.Base <= 0 {
		cfg.BackOff = reconcile.DefaultBackOff
	}
	c := &Controller{db: db, bus: b, log: log, clock: clk,
		planner: reconcile.JobPlanner{BackOff: cfg.BackOff, Name: naming.GenerateName}}
	c.jobs = controller.New(controller.Config{Name: "job", Workers: cfg.Workers, Sync: c.syncJob,
		List: keysOf(db, kinds.Jobs), Resync: cfg.Resync, Log: log})
	c.cronJobs = controller.New(controller.Config{Name: "cronjob", Workers: cfg.Workers, Sync: c.syncCronJob,
		List: keysOf(db, kinds.CronJobs), Resync: cfg.Resync, Log: log})
	c.gc = controller.New(controller.Config{Name: "garbagecollector", Workers: 1, Sync: c.collectGarbage,
		List: func(context.Context) ([]string, error) { return []string{gcKey, repairKey}, nil }, Resync: cfg.Resync, Log: log})
	return c
}

// keysOf lists "namespace/name" of every object of a kind, for resyncs.
func keysOf[T store.Object](db *store.DB, kind store.Kind[T]) controller.ListFunc {
	return func(ctx context.Context) ([]string, error) { return kind.Keys(ctx, db.Pool) }
}

// OnObject routes a stored change ("Kind/namespace/name") to its loop.
func (c *Controller) OnObject(payload string) {
	kind, key, ok := strings.Cut(payload, "/")
	if !ok {
		return
	}
	switch kind {
	case kinds.Jobs.Name:
		c.jobs.Enqueue(key)
		c.gc.EnqueueAfter(gcKey, gcDelay)
	case kinds.CronJobs.Name:
		c.cronJobs.Enqueue(key)
		c.gc.EnqueueAfter(gcKey, gcDelay)
	}
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
