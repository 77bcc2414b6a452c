// Package controller runs the daemonset service's reconcile loops: the DaemonSet
// sync over stored state, garbage collection, and the consumers of the node
// service's pod events and node events.
package controller

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/store"
)

// Config tunes the loops.
type Config struct {
	Workers int
	Resync  time.Duration
	// Nodes, when set, repairs the node view from a full list at every resync.
	Nodes NodeLister
}

// Controller owns the loops of the service.
type Controller struct {
	db    *store.DB
	bus   *bus.Bus
	log   *slog.Logger
	clock clock.Clock

	nodes      NodeLister
	backoff    *failedBackoff
	daemonSets *controller.Controller
	gc         *controller.Controller
	repair     *controller.Controller
}

// New builds the loops; they run in Run.
func New(db *store.DB, b *bus.Bus, log *slog.Logger, clk clock.Clock, cfg Config) *Controller {
	c := &Controller{db: db, bus: b, log: log, clock: clk, nodes: cfg.Nodes, backoff: newFailedBackoff()}
	c.daemonSets = controller.New(controller.Config{Name: "daemonset", Workers: cfg.Workers, Sync: c.syncDaemonSet,
		List: c.listKeys, Resync: cfg.Resync, Log: log})
	c.gc = controller.New(controller.Config{Name: "garbagecollector", Workers: 1, Sync: c.collectGarbage,
		List: func(context.Context) ([]string, error) { return []string{gcKey, repairKey}, nil }, Resync: cfg.Resync, Log: log})
	if cfg.Nodes != nil {
		c.repair = controller.New(controller.Config{Name: "noderepair", Workers: 1, Sync: c.syncRepair,
			List: func(context.Context) ([]string, error) { return []string{nodeRepairKey}, nil }, Resync: cfg.Resync, Log: log})
	}
	return c
}

const nodeRepairKey = "nodes"

// syncRepair repairs the node view and wakes every DaemonSet when it changed.
func (c *Controller) syncRepair(ctx context.Context, _ string) error {
	changed, err := c.repairNodes(ctx)
	if err != nil {
		return err
	}
	if changed {
		c.enqueueAll(ctx)
	}
	return nil
}

// listKeys lists "namespace/name" of every DaemonSet, for resyncs.
func (c *Controller) listKeys(ctx context.Context) ([]string, error) {
	return kinds.DaemonSets.Keys(ctx, c.db.Pool)
}

// enqueueAll wakes every DaemonSet (a node changed).
func (c *Controller) enqueueAll(ctx context.Context) {
	keys, err := c.listKeys(ctx)
	if err != nil {
		c.log.Warn("list daemon sets failed; the resync will catch up", "err", err)
		return
	}
	for _, k := range keys {
		c.daemonSets.Enqueue(k)
	}
}

// OnObject routes a stored change ("Kind/namespace/name") to its loop.
func (c *Controller) OnObject(payload string) {
	kind, key, ok := strings.Cut(payload, "/")
	if !ok {
		return
	}
	switch kind {
	case kinds.DaemonSets.Name:
		c.daemonSets.Enqueue(key)
		c.gc.EnqueueAfter(gcKey, gcDelay)
	case kinds.ControllerRevisions.Name:
		c.gc.EnqueueAfter(gcKey, gcDelay)
	}
}

// Run runs the loops and the consumers until ctx ends (one leadership term).
func (c *Controller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	loops := []*controller.Controller{c.daemonSets, c.gc}
	if c.repair != nil {
		loops = append(loops, c.repair)
	}
	for _, l := range loops {
		wg.Add(1)
		go func() { defer wg.Done(); l.Run(ctx) }()
	}
	consume := func(cfg bus.ConsumerConfig, h bus.Handler) {
		defer wg.Done()
		c.bus.ConsumeUntilDone(ctx, c.log, cfg, h)
	}
	wg.Add(2)
	go consume(bus.ConsumerConfig{Stream: bus.StreamPodEvents, Durable: "daemonset", Filters: []string{bus.PodEventSubject("DaemonSet")}}, c.handlePodEvents)
	go consume(bus.ConsumerConfig{Stream: bus.StreamNodeEvents, Durable: "daemonset", Filters: []string{"nodes.events.>"}}, c.handleNodeEvents)
	wg.Wait()
}

func splitKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}
