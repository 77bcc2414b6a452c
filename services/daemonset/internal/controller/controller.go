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
	"github.com/podwarden/podwarden/services/daemonset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Caches are the watch caches the loops read (the API's own, so objects are decoded
// once for both), the pod view's and the node view's.
type Caches struct {
	DaemonSets *watch.Cache[*daemonsetv1.DaemonSet]
	Revisions  *watch.Cache[*revisions.Revision]
	Pods       *watch.Cache[*corev1.Pod]
	Nodes      *watch.Cache[*nodev1.Node]
}

// Config tunes the loops.
type Config struct {
	Workers int
	Resync  time.Duration
	// Nodes, when set, repairs the node view from a full list at every resync.
	Nodes NodeLister
}

// Controller owns the loops of the service.
type Controller struct {
	db     *store.DB
	bus    *bus.Bus
	log    *slog.Logger
	clock  clock.Clock
	in     *apply.Informer
	caches Caches

	nodes      NodeLister
	backoff    *failedBackoff
	daemonSets *controller.Controller
	gc         *controller.Controller
	repair     *controller.Controller
}

// New builds the loops over the caches fed by hub; they run in Run.
func New(db *store.DB, b *bus.Bus, hub *watch.Hub, caches Caches, log *slog.Logger, clk clock.Clock, cfg Config) *Controller {
	c := &Controller{db: db, bus: b, log: log, clock: clk, in: apply.NewInformer(hub, caches.Revisions, caches.Pods, caches.Nodes), caches: caches, nodes: cfg.Nodes, backoff: newFailedBackoff()}
	c.daemonSets = controller.New(controller.Config{Name: "daemonset", Workers: cfg.Workers, Sync: c.syncDaemonSet,
		List: c.listKeys, Resync: cfg.Resync, Log: log})
	c.gc = controller.New(controller.Config{Name: "garbagecollector", Workers: 1, SyncBatch: apply.GCBatch(c.collectGarbage),
		List: apply.GCKeys, Resync: cfg.Resync, Log: log})
	if cfg.Nodes != nil {
		c.repair = controller.New(controller.Config{Name: "noderepair", Workers: 1, Sync: c.syncRepair,
			List: func(context.Context) ([]string, error) { return []string{nodeRepairKey}, nil }, Resync: cfg.Resync, Log: log})
	}
	c.watchCaches()
	return c
}

const nodeRepairKey = "nodes"

// syncRepair repairs the node view; the node cache then wakes the DaemonSets
// (watchCaches). The view is quiet, so the feed is told here.
func (c *Controller) syncRepair(ctx context.Context, _ string) error {
	changed, err := c.repairNodes(ctx)
	if changed {
		c.in.Hub.Kick()
	}
	return err
}

// listKeys lists "namespace/name" of every DaemonSet, for resyncs.
func (c *Controller) listKeys(ctx context.Context) ([]string, error) {
	return kinds.DaemonSets.Keys(ctx, c.db.Pool)
}

// watchCaches wakes the loops from the caches (client-go's event handlers, as
// Kubernetes' daemonset controller registers them): a sync woken by a change reads a
// cache that holds it. A DaemonSet's change wakes it and the garbage collector; a
// pod's or a ControllerRevision's wakes its controller (the former one too when its
// controller changed; an orphan's wakes the DaemonSets whose selector matches it, to
// adopt it), a revision's the garbage collector too. A node added wakes the DaemonSets
// that should run a pod on it (addNode), a node changed those for which it changed
// whether they should run or keep running one there (updateNode), a node gone every
// DaemonSet (its pods there go).
func (c *Controller) watchCaches() {
	selecting := func(obj store.Object) []string {
		return apply.Selecting(c.caches.DaemonSets, func(ds *daemonsetv1.DaemonSet) *corev1.LabelSelector { return ds.GetSpec().GetSelector() }, obj)
	}
	daemonSetCached := apply.CachedIn("DaemonSet", c.caches.DaemonSets)
	c.caches.DaemonSets.OnChange(func(e watch.Event[*daemonsetv1.DaemonSet]) {
		c.daemonSets.Enqueue(e.Key)
		apply.EnqueueDependents(e, c.gc.Enqueue)
	})
	c.caches.Pods.OnChange(func(e watch.Event[*corev1.Pod]) {
		apply.EnqueueIfOrphan(e, c.gc.Enqueue, daemonSetCached)
		apply.EnqueueOwners(e, "DaemonSet", c.daemonSets.Enqueue, func(p *corev1.Pod) []string { return selecting(p) })
	})
	c.caches.Revisions.OnChange(func(e watch.Event[*revisions.Revision]) {
		apply.EnqueueOwners(e, "DaemonSet", c.daemonSets.Enqueue, func(r *revisions.Revision) []string { return selecting(r) })
		apply.EnqueueIfOrphan(e, c.gc.Enqueue, daemonSetCached)
	})
	c.caches.Nodes.OnChange(func(e watch.Event[*nodev1.Node]) {
		for _, ds := range c.caches.DaemonSets.Select(store.ListOptions{}) {
			if nodeWakes(e, ds) {
				c.daemonSets.Enqueue(ds.GetMetadata().GetNamespace() + "/" + ds.GetMetadata().GetName())
			}
		}
	})
}

// nodeWakes tells whether the node change e concerns ds (the daemonset controller's
// addNode and updateNode; a node gone concerns every DaemonSet).
func nodeWakes(e watch.Event[*nodev1.Node], ds *daemonsetv1.DaemonSet) bool {
	switch {
	case e.Type == store.Deleted:
		return true
	case !e.HasPrev || e.Prev.GetMetadata().GetUid() != e.Object.GetMetadata().GetUid():
		run, _ := reconcile.ShouldRun(e.Object, ds)
		return run
	}
	oldRun, oldKeep := reconcile.ShouldRun(e.Prev, ds)
	run, keep := reconcile.ShouldRun(e.Object, ds)
	return oldRun != run || oldKeep != keep
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
