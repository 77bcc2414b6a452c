// Package controller runs the statefulset service's reconcile loops: the StatefulSet
// sync over stored state, the PersistentVolumeClaim binder, garbage collection
// (with the repair of lost pod commands), and the consumer of the node service's
// pod events.
package controller

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/podview"
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
	view  podview.View

	sets   *controller.Controller
	binder *controller.Controller
	gc     *controller.Controller
}

const (
	gcKey      = "gc"
	repairKey  = "repair"
	volumesKey = "/volumes" // the binder's reclaim pass (no claim key starts with "/")
	gcDelay    = 100 * time.Millisecond
)

// New builds the loops; they run in Run.
func New(db *store.DB, b *bus.Bus, log *slog.Logger, clk clock.Clock, cfg Config) *Controller {
	c := &Controller{db: db, bus: b, log: log, clock: clk, view: podview.Default}
	c.sets = controller.New(controller.Config{Name: "statefulset", Workers: cfg.Workers, Sync: c.syncStatefulSet,
		List:   func(ctx context.Context) ([]string, error) { return kinds.StatefulSets.Keys(ctx, db.Pool) },
		Resync: cfg.Resync, Log: log})
	c.binder = controller.New(controller.Config{Name: "persistentvolume-binder", Workers: cfg.Workers, Sync: c.syncBinder,
		List: func(ctx context.Context) ([]string, error) {
			keys, err := kinds.Claims.Keys(ctx, db.Pool)
			return append(keys, volumesKey), err
		},
		Resync: cfg.Resync, Log: log})
	c.gc = controller.New(controller.Config{Name: "garbagecollector", Workers: 1, Sync: c.collectGarbage,
		List: func(context.Context) ([]string, error) { return []string{gcKey, repairKey}, nil }, Resync: cfg.Resync, Log: log})
	return c
}

// OnObject routes a stored change ("Kind/namespace/name") to its loops.
func (c *Controller) OnObject(payload string) {
	kind, key, ok := strings.Cut(payload, "/")
	if !ok {
		return
	}
	switch kind {
	case kinds.StatefulSets.Name:
		c.sets.Enqueue(key)
		c.gc.EnqueueAfter(gcKey, gcDelay)
	case kinds.Claims.Name:
		c.binder.Enqueue(key)
		c.binder.EnqueueAfter(volumesKey, gcDelay)
		c.enqueueSetsOf(key)
	case kinds.Volumes.Name:
		c.binder.EnqueueAfter(volumesKey, gcDelay)
	case kinds.ControllerRevisions.Name:
		c.gc.EnqueueAfter(gcKey, gcDelay)
	}
}

// enqueueSetsOf wakes the StatefulSet a claim "<template>-<set>-<ordinal>" may
// belong to (a claim bound or deleted under a waiting pod).
func (c *Controller) enqueueSetsOf(claimKey string) {
	ns, name, _ := strings.Cut(claimKey, "/")
	// Template names and set names may both contain dashes: wake every candidate.
	parts := strings.Split(name, "-")
	for i := 1; i < len(parts)-1; i++ {
		c.sets.Enqueue(ns + "/" + strings.Join(parts[i:len(parts)-1], "-"))
	}
}

// Run runs the loops and the consumer until ctx ends (one leadership term).
func (c *Controller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range []*controller.Controller{c.sets, c.binder, c.gc} {
		wg.Add(1)
		go func() { defer wg.Done(); l.Run(ctx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Bare pods' events too: pods this service orphaned stay current in the view
		// until a StatefulSet adopts them again.
		cfg := bus.ConsumerConfig{Stream: bus.StreamPodEvents, Durable: "statefulset",
			Filters: []string{bus.PodEventSubject("StatefulSet"), bus.PodEventSubject("")}}
		c.bus.ConsumeUntilDone(ctx, c.log, cfg, c.handlePodEvents)
	}()
	wg.Wait()
}

// handlePodEvents applies a batch of pod events to the view, then wakes the owners.
func (c *Controller) handlePodEvents(ctx context.Context, msgs []bus.Received) error {
	owners, err := c.view.ApplyBatch(ctx, c.db, msgs, func(subject string, err error) {
		c.log.Warn("dropping undecodable pod event", "subject", subject, "err", err)
	})
	if err != nil {
		return err
	}
	for _, o := range owners {
		if o.Kind == "StatefulSet" {
			c.sets.Enqueue(o.Key)
		}
	}
	return nil
}

func splitKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}
