// Package controller runs the deployment service's reconcile loops: Deployments,
// ReplicaSets, ReplicationControllers and garbage collection, each a level-triggered
// sync over stored state, plus the consumer of the node service's pod events.
package controller

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/services/deployment/internal/reconcile"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/store"
)

// Config tunes the loops.
type Config struct {
	Workers int
	Resync  time.Duration
}

// Controller owns the loops of the service.
type Controller struct {
	db    *store.DB
	bus   *bus.Bus
	log   *slog.Logger
	clock clock.Clock

	deployments *controller.Controller
	replicaSets *controller.Controller
	rcs         *controller.Controller
	gc          *controller.Controller

	dPlanner  reconcile.DeploymentPlanner
	rsPlanner reconcile.ReplicaSetPlanner
}

// New builds the loops; they run in Run.
func New(db *store.DB, b *bus.Bus, log *slog.Logger, clk clock.Clock, cfg Config) *Controller {
	c := &Controller{db: db, bus: b, log: log, clock: clk}
	c.deployments = controller.New(controller.Config{Name: "deployment", Workers: cfg.Workers, Sync: c.syncDeployment,
		List: keysOf(db, kinds.Deployments), Resync: cfg.Resync, Log: log})
	c.replicaSets = controller.New(controller.Config{Name: "replicaset", Workers: cfg.Workers, Sync: c.syncReplicaSet,
		List: keysOf(db, kinds.ReplicaSets), Resync: cfg.Resync, Log: log})
	c.rcs = controller.New(controller.Config{Name: "replicationcontroller", Workers: cfg.Workers, Sync: c.syncReplicationController,
		List: keysOf(db, kinds.ReplicationControllers), Resync: cfg.Resync, Log: log})
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
	case kinds.Deployments.Name:
		c.deployments.Enqueue(key)
		c.gc.EnqueueAfter(gcKey, gcDelay)
	case kinds.ReplicaSets.Name:
		c.replicaSets.Enqueue(key)
		c.gc.EnqueueAfter(gcKey, gcDelay)
	case kinds.ReplicationControllers.Name:
		c.rcs.Enqueue(key)
		c.gc.EnqueueAfter(gcKey, gcDelay)
	}
}

// Run runs every loop and the pod event consumer until ctx ends (one leadership term).
func (c *Controller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range []*controller.Controller{c.deployments, c.replicaSets, c.rcs, c.gc} {
		wg.Add(1)
		go func() { defer wg.Done(); l.Run(ctx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.bus.ConsumeUntilDone(ctx, c.log, bus.ConsumerConfig{
			Stream: bus.StreamPodEvents, Durable: "deployment",
			Filters: []string{bus.PodEventSubject("ReplicaSet"), bus.PodEventSubject("ReplicationController"), bus.PodEventSubject("")},
		}, c.handlePodEvents)
	}()
	wg.Wait()
}

func splitKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}
