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
	"github.com/podwarden/podwarden/services/statefulset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

// Caches are the watch caches the loops read (the API's own, so objects are decoded
// once for both) and the pod view's.
type Caches struct {
	StatefulSets *watch.Cache[*statefulsetv1.StatefulSet]
	Revisions    *watch.Cache[*revisions.Revision]
	Claims       *watch.Cache[*statefulsetv1.PersistentVolumeClaim]
	Volumes      *watch.Cache[*statefulsetv1.PersistentVolume]
	Classes      *watch.Cache[*storagev1.StorageClass]
	Pods         *watch.Cache[*corev1.Pod]
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
	view   podview.View
	in     *apply.Informer
	caches Caches

	sets   *controller.Controller
	binder *controller.Controller
	gc     *controller.Controller
}

const (
	volumesKey = "/volumes" // the binder's reclaim pass (no claim key starts with "/")
	// reclaimDelay debounces the reclaim pass over the changes of claims and volumes.
	reclaimDelay = 100 * time.Millisecond
)

// New builds the loops over the caches fed by hub; they run in Run.
func New(db *store.DB, b *bus.Bus, hub *watch.Hub, caches Caches, log *slog.Logger, clk clock.Clock, cfg Config) *Controller {
	c := &Controller{db: db, bus: b, log: log, clock: clk, view: podview.Default, in: apply.NewInformer(hub, caches.Revisions, caches.Claims, caches.Pods), caches: caches}
	c.sets = controller.New(controller.Config{Name: "statefulset", Workers: cfg.Workers, Sync: c.syncStatefulSet,
		List:   func(ctx context.Context) ([]string, error) { return kinds.StatefulSets.Keys(ctx, db.Pool) },
		Resync: cfg.Resync, Log: log})
	c.binder = controller.New(controller.Config{Name: "persistentvolume-binder", Workers: cfg.Workers, Sync: c.syncBinder,
		List: func(ctx context.Context) ([]string, error) {
			keys, err := kinds.Claims.Keys(ctx, db.Pool)
			return append(keys, volumesKey), err
		},
		Resync: cfg.Resync, Log: log})
	c.gc = controller.New(controller.Config{Name: "garbagecollector", Workers: 1, SyncBatch: apply.GCBatch(c.collectGarbage),
		List: apply.GCKeys, Resync: cfg.Resync, Log: log})
	c.watchCaches()
	return c
}

// watchCaches wakes the loops from the caches (client-go's event handlers, as
// Kubernetes' statefulset controller registers them): a sync woken by a change reads
// a cache that holds it. A StatefulSet's change wakes it and the garbage collector; a
// pod's wakes its controller (the former one too when its controller changed), and an
// orphan's (added, or its labels or controller changed) wakes the sets of its
// namespace whose selector matches it, to adopt it. A claim's change wakes the binder
// (the claim, and the reclaim pass) and the sets it may belong to; a volume's the
// reclaim pass; a revision's the garbage collector.
func (c *Controller) watchCaches() {
	setCached := apply.CachedIn("StatefulSet", c.caches.StatefulSets)
	c.caches.StatefulSets.OnChange(func(e watch.Event[*statefulsetv1.StatefulSet]) {
		c.sets.Enqueue(e.Key)
		apply.EnqueueDependents(e, c.gc.Enqueue)
	})
	c.caches.Pods.OnChange(func(e watch.Event[*corev1.Pod]) {
		apply.EnqueueDependents(e, c.gc.Enqueue) // claims the retention policy gave to the pod
		apply.EnqueueIfOrphan(e, c.gc.Enqueue, setCached)
		apply.EnqueueOwners(e, "StatefulSet", c.sets.Enqueue, func(p *corev1.Pod) []string {
			return apply.Selecting(c.caches.StatefulSets, func(s *statefulsetv1.StatefulSet) *corev1.LabelSelector { return s.GetSpec().GetSelector() }, p)
		})
		// A scheduled pod is the first consumer its WaitForFirstConsumer claims wait for.
		if p := e.Object; p.GetSpec().GetNodeName() != "" {
			for _, v := range p.GetSpec().GetVolumes() {
				if name := v.GetPersistentVolumeClaim().GetClaimName(); name != "" {
					c.binder.Enqueue(p.GetMetadata().GetNamespace() + "/" + name)
				}
			}
		}
	})
	// A class created or changed may be what pending claims wait for (their class,
	// or a default class for claims without one).
	if c.caches.Classes != nil {
		c.caches.Classes.OnChange(func(watch.Event[*storagev1.StorageClass]) {
			for _, cl := range c.caches.Claims.Select(store.ListOptions{}) {
				if !reconcile.Settled(cl) {
					c.binder.Enqueue(cl.GetMetadata().GetNamespace() + "/" + cl.GetMetadata().GetName())
				}
			}
		})
	}
	c.caches.Claims.OnChange(func(e watch.Event[*statefulsetv1.PersistentVolumeClaim]) {
		c.binder.Enqueue(e.Key)
		c.binder.EnqueueAfter(volumesKey, reclaimDelay)
		c.enqueueSetsOf(e.Key)
		// A claim given owners that are all gone already (the retention policy's
		// write racing the owner's deletion) is garbage that no deletion event names.
		if m := e.Object.GetMetadata(); e.Type != store.Deleted && len(m.GetOwnerReferences()) > 0 && !c.anyOwnerCached(m) {
			for _, r := range m.GetOwnerReferences() {
				c.gc.Enqueue(apply.GCOwnerKey(r.GetUid()))
			}
		}
	})
	c.caches.Volumes.OnChange(func(watch.Event[*statefulsetv1.PersistentVolume]) {
		c.binder.EnqueueAfter(volumesKey, reclaimDelay)
	})
	c.caches.Revisions.OnChange(func(e watch.Event[*revisions.Revision]) {
		apply.EnqueueIfOrphan(e, c.gc.Enqueue, setCached)
	})
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

// handlePodEvents applies a batch of pod events to the view in one transaction; the
// pod cache then wakes the owners (watchCaches). The view is quiet (no notification
// per pod), so the feed is told here.
func (c *Controller) handlePodEvents(ctx context.Context, msgs []bus.Received) error {
	_, refused, err := c.view.ApplyBatch(ctx, c.db, msgs, func(subject string, err error) {
		c.log.Warn("dropping undecodable pod event", "subject", subject, "err", err)
	})
	if err == nil {
		c.in.Hub.Kick()
		// Owners whose pods the node service refused (a quota) wait before asking again.
		c.in.HoldCreates(refused, c.clock.Now())
	}
	return err
}

func splitKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}
