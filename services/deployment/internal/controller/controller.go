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
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// Caches are the watch caches the syncs read (the API's own, so objects are decoded
// once for both) and the pod view's.
type Caches struct {
	Deployments            *watch.Cache[*deploymentv1.Deployment]
	ReplicaSets            *watch.Cache[*deploymentv1.ReplicaSet]
	ReplicationControllers *watch.Cache[*deploymentv1.ReplicationController]
	Pods                   *watch.Cache[*corev1.Pod]
}

// Config tunes the loops.
type Config struct {
	Workers int
	Resync  time.Duration
}

// Controller owns the loops of the service.
type Controller struct {
	db     *store.DB
	bus    *bus.Bus
	log    *slog.Logger
	clock  clock.Clock
	in     *apply.Informer
	caches Caches

	deployments *controller.Controller
	replicaSets *controller.Controller
	rcs         *controller.Controller
	gc          *controller.Controller

	dPlanner  reconcile.DeploymentPlanner
	rsPlanner reconcile.ReplicaSetPlanner
	// refused are the owners whose pods the node service refused to create.
	refused refusals
}

// New builds the loops over the caches fed by hub; they run in Run.
func New(db *store.DB, b *bus.Bus, hub *watch.Hub, caches Caches, log *slog.Logger, clk clock.Clock, cfg Config) *Controller {
	c := &Controller{db: db, bus: b, log: log, clock: clk, in: apply.NewInformer(hub, caches.Deployments, caches.ReplicaSets, caches.ReplicationControllers, caches.Pods), caches: caches}
	c.deployments = controller.New(controller.Config{Name: "deployment", Workers: cfg.Workers, Sync: c.syncDeployment,
		List: keysOf(db, kinds.Deployments), Resync: cfg.Resync, Log: log})
	c.replicaSets = controller.New(controller.Config{Name: "replicaset", Workers: cfg.Workers, Sync: c.syncReplicaSet,
		List: keysOf(db, kinds.ReplicaSets), Resync: cfg.Resync, Log: log})
	c.rcs = controller.New(controller.Config{Name: "replicationcontroller", Workers: cfg.Workers, Sync: c.syncReplicationController,
		List: keysOf(db, kinds.ReplicationControllers), Resync: cfg.Resync, Log: log})
	c.gc = controller.New(controller.Config{Name: "garbagecollector", Workers: 1, SyncBatch: apply.GCBatch(c.collectGarbage),
		List: apply.GCKeys, Resync: cfg.Resync, Log: log})
	c.watchCaches()
	return c
}

// keysOf lists "namespace/name" of every object of a kind, for resyncs.
func keysOf[T store.Object](db *store.DB, kind store.Kind[T]) controller.ListFunc {
	return func(ctx context.Context) ([]string, error) { return kind.Keys(ctx, db.Pool) }
}

// watchCaches wakes the loops from the caches (client-go's event handlers): a sync
// woken by a change reads a cache that holds it. Every change of a Deployment,
// ReplicaSet or ReplicationController wakes its own loop and the garbage collector; a
// ReplicaSet's wakes its Deployment (the Deployment reads its status), an orphan
// ReplicaSet's the Deployments selecting it; a pod's wakes its controller (and the
// former one), an orphan pod's the ReplicaSets and ReplicationControllers selecting it,
// and a pod gone wakes the Deployment of its ReplicaSet too (a Recreate rollout waits
// for the old pods to be gone).
func (c *Controller) watchCaches() {
	deploymentCached := apply.CachedIn("Deployment", c.caches.Deployments)
	podOwnerCached := apply.Cached(apply.CachedIn("ReplicaSet", c.caches.ReplicaSets),
		apply.CachedIn("ReplicationController", c.caches.ReplicationControllers))
	c.caches.Deployments.OnChange(func(e watch.Event[*deploymentv1.Deployment]) {
		c.deployments.Enqueue(e.Key)
		apply.EnqueueDependents(e, c.gc.Enqueue)
	})
	c.caches.ReplicaSets.OnChange(func(e watch.Event[*deploymentv1.ReplicaSet]) {
		c.replicaSets.Enqueue(e.Key)
		apply.EnqueueDependents(e, c.gc.Enqueue)
		apply.EnqueueIfOrphan(e, c.gc.Enqueue, deploymentCached)
		apply.EnqueueOwners(e, "Deployment", c.deployments.Enqueue, func(rs *deploymentv1.ReplicaSet) []string {
			return apply.Selecting(c.caches.Deployments, func(d *deploymentv1.Deployment) *corev1.LabelSelector { return d.GetSpec().GetSelector() }, rs)
		})
	})
	c.caches.ReplicationControllers.OnChange(func(e watch.Event[*deploymentv1.ReplicationController]) {
		c.rcs.Enqueue(e.Key)
		apply.EnqueueDependents(e, c.gc.Enqueue)
	})
	c.caches.Pods.OnChange(func(e watch.Event[*corev1.Pod]) {
		apply.EnqueueIfOrphan(e, c.gc.Enqueue, podOwnerCached)
		apply.EnqueueOwners(e, "ReplicaSet", c.replicaSets.Enqueue, func(p *corev1.Pod) []string {
			return apply.Selecting(c.caches.ReplicaSets, func(rs *deploymentv1.ReplicaSet) *corev1.LabelSelector { return rs.GetSpec().GetSelector() }, p)
		})
		apply.EnqueueOwners(e, "ReplicationController", c.rcs.Enqueue, func(p *corev1.Pod) []string {
			return apply.Selecting(c.caches.ReplicationControllers, func(rc *deploymentv1.ReplicationController) *corev1.LabelSelector {
				return labels.FromMap(rc.GetSpec().GetSelector())
			}, p)
		})
		if e.Type != store.Deleted {
			return
		}
		m := e.Object.GetMetadata()
		if ref := podutil.GetControllerOf(m); ref.GetKind() == "ReplicaSet" {
			if rs, ok := c.caches.ReplicaSets.Get(m.GetNamespace(), ref.GetName()); ok {
				if d := podutil.GetControllerOf(rs.GetMetadata()); d.GetKind() == "Deployment" {
					c.deployments.Enqueue(m.GetNamespace() + "/" + d.GetName())
				}
			}
		}
	})
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
