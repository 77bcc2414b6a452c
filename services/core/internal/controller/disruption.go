package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/podwarden/podwarden/services/core/internal/disruption"
	"github.com/podwarden/podwarden/services/core/internal/kinds"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

// PodSource lists and watches pods (the node service).
type PodSource interface {
	List(ctx context.Context, ns, selector string) ([]*corev1.Pod, error)
	Watch(ctx context.Context, fn func(*corev1.Pod)) error
}

// ScaleFinder finds the scale that counts for a pod controller.
type ScaleFinder interface {
	Find(ctx context.Context, ns string, ref *corev1.OwnerReference) (disruption.Scale, bool, error)
}

// Disruption is kube-controller-manager's disruption controller: it keeps each
// PodDisruptionBudget's status (currentHealthy, desiredHealthy, expectedPods,
// disruptionsAllowed, disruptedPods, the DisruptionAllowed condition) computed from
// the pods it selects (disruption.Compute). A budget is synced when it changes, when
// a pod of its namespace that it selects changes (the node service's pod watch), when
// an evicted pod's timeout comes, and on resyncs.
type Disruption struct {
	db     *store.DB
	cache  *watch.Cache[*policyv1.PodDisruptionBudget]
	pods   PodSource
	scales ScaleFinder
	clock  clock.Clock
	log    *slog.Logger
	loop   *controller.Controller
}

// NewDisruption returns the controller over the budgets' cache.
func NewDisruption(db *store.DB, cache *watch.Cache[*policyv1.PodDisruptionBudget], pods PodSource, scales ScaleFinder,
	clk clock.Clock, log *slog.Logger, workers int, resync time.Duration) *Disruption {
	c := &Disruption{db: db, cache: cache, pods: pods, scales: scales, clock: clk, log: log}
	c.loop = controller.New(controller.Config{Name: "disruption", Workers: workers, Sync: c.sync,
		List:   func(ctx context.Context) ([]string, error) { return kinds.PodDisruptionBudgets.Keys(ctx, db.Pool) },
		Resync: resync, Log: log})
	return c
}

// OnObject enqueues a budget whose stored change is notified ("PodDisruptionBudget/ns/name").
func (c *Disruption) OnObject(payload string) {
	if rest, ok := strings.CutPrefix(payload, kinds.PodDisruptionBudgets.Name+"/"); ok {
		c.loop.Enqueue(rest)
	}
}

// Run runs the loop and the pod watch until ctx ends (one leadership term).
func (c *Disruption) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() { defer close(done); c.watchPods(ctx) }()
	c.loop.Run(ctx)
	<-done
}

// watchPods wakes the budgets selecting each pod that changes; the watch is
// restarted when it ends, and every budget is synced again then (changes may have
// been missed meanwhile).
func (c *Disruption) watchPods(ctx context.Context) {
	for ctx.Err() == nil {
		c.enqueueAll(ctx)
		err := c.pods.Watch(ctx, c.enqueueFor)
		if ctx.Err() != nil {
			return
		}
		c.log.Debug("pod watch ended; restarting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (c *Disruption) enqueueAll(ctx context.Context) {
	if err := c.cache.Synced(ctx); err != nil {
		return
	}
	for _, p := range c.cache.Select(store.ListOptions{}) {
		c.loop.Enqueue(p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName())
	}
}

func (c *Disruption) enqueueFor(pod *corev1.Pod) {
	for _, p := range c.cache.Select(store.ListOptions{Namespace: pod.GetMetadata().GetNamespace()}) {
		if disruption.Selects(p, pod) {
			c.loop.Enqueue(p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName())
		}
	}
}

// sync recomputes one budget's status and writes it when it changed, with the
// budget's resourceVersion as precondition: an eviction that used the budget
// meanwhile makes it a conflict and a retry, never a lost disruption.
func (c *Disruption) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	pdb, err := kinds.PodDisruptionBudgets.Get(ctx, c.db.Pool, ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var pods []*corev1.Pod
	if sel := pdb.GetSpec().GetSelector(); sel != nil {
		s, err := labels.FromProto(sel)
		if err != nil {
			return nil // validation keeps such selectors out
		}
		if pods, err = c.pods.List(ctx, ns, s.String()); err != nil {
			return fmt.Errorf("list pods of %s: %w", key, err)
		}
	}
	scales := map[string]disruption.Scale{}
	if disruption.NeedsScales(pdb) {
		for _, p := range pods {
			ref := podutil.GetControllerOf(p.GetMetadata())
			if ref == nil {
				continue
			}
			if _, done := scales[ref.GetUid()]; done {
				continue
			}
			sc, ok, err := c.scales.Find(ctx, ns, ref)
			if err != nil {
				return fmt.Errorf("scale of %s %s/%s: %w", ref.GetKind(), ns, ref.GetName(), err)
			}
			if ok {
				scales[ref.GetUid()] = sc
			}
		}
	}
	res := disruption.Compute(disruption.Input{PDB: pdb, Pods: pods, Scales: scales, Now: c.clock.Now()})
	if res.Recheck > 0 {
		c.loop.EnqueueAfter(key, res.Recheck)
	}
	if res.Status == nil {
		return nil
	}
	pdb.Status = res.Status
	if _, err := kinds.PodDisruptionBudgets.Update(ctx, c.db.Pool, pdb); err != nil {
		return fmt.Errorf("update status of poddisruptionbudget %s: %w", key, err)
	}
	return nil
}
