// Package controller runs the node service's loops on the leader replica: the
// scheduler (binds pending pods), the kubelet (moves bound pods along their
// lifecycle with the sim runtime), a node fan-out (a node change re-examines
// its pods), the endpoints controller (Services' Endpoints from the stored
// pods) and the POD_COMMANDS consumer. Every loop reads the store and
// writes back in one transaction with its outbox messages; nothing lives only
// in memory.
package controller

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/placement"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Config tunes the loops.
type Config struct {
	// Delays of the simulated kubelet.
	Delays sim.Delays
	// ScheduleDelay is how long a new pod waits before the scheduler looks at it.
	ScheduleDelay time.Duration
	// Workers of the kubelet loop (default 4).
	Workers int
	// Resync is the period of the full resync (default 30s).
	Resync time.Duration
}

// Caches are the watch caches the scheduler reads (the API's own, so objects are
// decoded once for both) and the hub that feeds them.
type Caches struct {
	Hub   *watch.Hub
	Pods  *watch.Cache[*corev1.Pod]
	Nodes *watch.Cache[*nodev1.Node]
	// Quotas are the ResourceQuotas (a pod change wakes the quota controller
	// only in a namespace that has some).
	Quotas *watch.Cache[*corev1.ResourceQuota]
}

// scheduleKey is the scheduler's single key: one sync schedules every pending pod.
const scheduleKey = "schedule"

// Controllers are the node service's loops.
type Controllers struct {
	db    *store.DB
	bus   *bus.Bus
	log   *slog.Logger
	clock clock.Clock
	cfg   Config
	// caches are what the scheduler reads instead of listing the store.
	caches Caches

	scheduler *controller.Controller
	kubelet   *controller.Controller
	nodes     *controller.Controller
	endpoints *controller.Controller
	quotas    *controller.Controller
	services  serviceIndex

	// unschedulable is the number of pods the last scheduling pass left pending:
	// when it is zero, freed resources need not wake the scheduler.
	unschedulable atomic.Int64
	// state is the scheduler's cache: node usage and pending pods, kept current by
	// the pod and node caches' handlers; newTerm asks the next pass to rebuild it.
	state   *placement.State
	newTerm atomic.Bool
}

// New builds the loops; they run only inside Run (on the leader).
func New(db *store.DB, b *bus.Bus, caches Caches, log *slog.Logger, clk clock.Clock, cfg Config) *Controllers {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 30 * time.Second
	}
	if clk == nil {
		clk = clock.Real{}
	}
	c := &Controllers{db: db, bus: b, caches: caches, log: log, clock: clk, cfg: cfg, state: placement.NewState()}
	c.scheduler = controller.New(controller.Config{
		Name: "scheduler", Workers: 1, Sync: c.schedule, Log: log, Resync: cfg.Resync,
		List: func(context.Context) ([]string, error) { return []string{scheduleKey}, nil },
	})
	c.kubelet = controller.New(controller.Config{
		Name: "kubelet", Workers: cfg.Workers, SyncBatch: c.syncPods, List: c.listPods, Resync: cfg.Resync, Log: log,
	})
	c.nodes = controller.New(controller.Config{Name: "nodes", Workers: 1, Sync: c.syncNode, Log: log})
	c.endpoints = controller.New(controller.Config{
		Name: "endpoints", Workers: 2, Sync: c.syncEndpoints, List: c.listServiceKeys, Resync: cfg.Resync, Log: log,
	})
	c.quotas = controller.New(controller.Config{
		Name: "resourcequota", Workers: 1, Sync: c.syncQuotas, List: c.listQuotaNamespaces, Resync: cfg.Resync, Log: log,
	})
	caches.Pods.OnChange(c.onPod)
	caches.Nodes.OnChange(func(e watch.Event[*nodev1.Node]) { c.state.Node(e.Object, e.Type == store.Deleted) })
	return c
}

// onPod follows a pod change the cache holds: the scheduler's state, the kubelet
// (woken from the cache, so its sync reads at least this version), and the scheduler
// when a pod waits or frees room for one that waits.
func (c *Controllers) onPod(e watch.Event[*corev1.Pod]) {
	p, deleted := e.Object, e.Type == store.Deleted
	c.state.Pod(p, deleted)
	c.kubelet.Enqueue(e.Key)
	c.quotaPodChanged(p.GetMetadata().GetNamespace())
	switch {
	case !deleted && !placement.Bound(p) && p.GetMetadata().GetDeletionTimestamp() == nil && !podutil.IsPodTerminal(p):
		c.scheduler.Enqueue(scheduleKey)
	case c.unschedulable.Load() > 0 && (deleted || podutil.IsPodTerminal(p)):
		c.scheduler.Enqueue(scheduleKey)
	}
}

// OnObject routes a change notification ("Kind/namespace/name", "" after a
// reconnect) to the loop that cares. A no-op on replicas that do not lead.
func (c *Controllers) OnObject(payload string) {
	if payload == "" {
		c.scheduler.Enqueue(scheduleKey)
		if c.kubelet.Running() {
			go c.enqueueAll()
		}
		return
	}
	kind, rest, _ := strings.Cut(payload, "/")
	switch kind {
	case "Pod":
		c.onPodChange(rest) // the kubelet is woken by the cache (onPod)
	case "Service", "Endpoints":
		c.endpoints.Enqueue(rest)
		if kind == "Service" {
			ns, _, _ := strings.Cut(rest, "/")
			c.quotaPodChanged(ns)
		}
	case "ResourceQuota":
		ns, _, _ := strings.Cut(rest, "/")
		c.quotas.Enqueue(ns)
	case "Node":
		_, name, _ := strings.Cut(rest, "/")
		c.nodes.Enqueue(name)
		c.scheduler.Enqueue(scheduleKey)
	}
}

func (c *Controllers) enqueueAll() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keys, err := c.listPods(ctx)
	if err != nil {
		c.log.Warn("list pods after reconnect", "err", err)
		return
	}
	for _, k := range keys {
		c.kubelet.Enqueue(k)
	}
	svcs, err := c.listServiceKeys(ctx)
	if err != nil {
		c.log.Warn("list services after reconnect", "err", err)
		return
	}
	for _, k := range svcs {
		c.endpoints.Enqueue(k)
	}
}

// Run runs every loop and the command consumer until ctx ends (the leader's term).
func (c *Controllers) Run(ctx context.Context) {
	c.newTerm.Store(true)
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){c.scheduler.Run, c.kubelet.Run, c.nodes.Run, c.endpoints.Run, c.quotas.Run, c.consume, c.housekeep} {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	wg.Wait()
}

// consume runs the POD_COMMANDS consumer, re-declaring it after failures.
func (c *Controllers) consume(ctx context.Context) {
	c.bus.ConsumeUntilDone(ctx, c.log, bus.ConsumerConfig{Stream: bus.StreamPodCommands, Durable: "node", Filters: []string{"pods.cmd.>"}}, c.handleCommands)
}

// Retention of tombstones (the watch cache trims the change log, app expires events).
const keepTombstones = 25 * time.Hour

// housekeep trims what grows without bound.
func (c *Controllers) housekeep(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := repo.TrimTombstones(ctx, c.db.Pool, keepTombstones); err != nil && ctx.Err() == nil {
			c.log.Warn("trim failed", "what", "tombstones", "err", err)
		}
	}
}
