// Package controller runs the HorizontalPodAutoscaler loop: every sync period each
// autoscaler reads its target's scale (gRPC), the target's pods and their metrics
// (node service), asks the pure planners in reconcile for a replica count, writes the
// scale, then stores status, events and the stabilization history in one transaction.
package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/autoscaler/internal/kinds"
	"github.com/podwarden/podwarden/services/autoscaler/internal/reconcile"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/store"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Component is the source of the autoscaler's events.
const Component = "horizontal-pod-autoscaler"

// Config tunes the loop (the kube-controller-manager --horizontal-pod-autoscaler-* flags).
type Config struct {
	Workers int
	// SyncPeriod between two syncs of an autoscaler (default 15 s).
	SyncPeriod time.Duration
	// DownscaleStabilization is the default scale-down window (default 5 min).
	DownscaleStabilization time.Duration
	// Tolerance (default 0.1), CPUInitializationPeriod (5 min), InitialReadinessDelay (30 s).
	Tolerance               float64
	CPUInitializationPeriod time.Duration
	InitialReadinessDelay   time.Duration
}

func (c *Config) defaults() {
	if c.SyncPeriod <= 0 {
		c.SyncPeriod = 15 * time.Second
	}
	if c.DownscaleStabilization <= 0 {
		c.DownscaleStabilization = reconcile.DefaultDownscaleStabilization
	}
	if c.Tolerance <= 0 {
		c.Tolerance = reconcile.DefaultTolerance
	}
	if c.CPUInitializationPeriod <= 0 {
		c.CPUInitializationPeriod = reconcile.DefaultCPUInitializationPeriod
	}
	if c.InitialReadinessDelay <= 0 {
		c.InitialReadinessDelay = reconcile.DefaultDelayOfInitialReadinessStatus
	}
}

// Controller owns the autoscaler loop.
type Controller struct {
	db      *store.DB
	log     *slog.Logger
	clock   clock.Clock
	cfg     Config
	calc    reconcile.Calculator
	scales  ScaleClient
	pods    PodLister
	metrics MetricsClient
	loop    *controller.Controller

	mu       sync.Mutex
	lastSync map[string]time.Time
}

// New builds the loop; it runs in Run.
func New(db *store.DB, log *slog.Logger, clk clock.Clock, cfg Config, scales ScaleClient, pods PodLister, metrics MetricsClient) *Controller {
	cfg.defaults()
	c := &Controller{db: db, log: log, clock: clk, cfg: cfg, scales: scales, pods: pods, metrics: metrics,
		calc: reconcile.Calculator{Tolerance: cfg.Tolerance, CPUInitializationPeriod: cfg.CPUInitializationPeriod,
			DelayOfInitialReadinessStatus: cfg.InitialReadinessDelay},
		lastSync: map[string]time.Time{}}
	c.loop = controller.New(controller.Config{Name: "horizontalpodautoscaler", Workers: cfg.Workers, Sync: c.sync,
		List: c.keys, Resync: cfg.SyncPeriod, Log: log})
	return c
}

// keys lists "namespace/name" of every HPA, for resyncs.
func (c *Controller) keys(ctx context.Context) ([]string, error) {
	return kinds.HPAs.Keys(ctx, c.db.Pool)
}

// OnObject routes a stored change ("Kind/namespace/name") to the loop.
func (c *Controller) OnObject(payload string) {
	kind, key, ok := strings.Cut(payload, "/")
	if ok && kind == kinds.HPAs.Name {
		c.loop.Enqueue(key)
	}
}

// Run runs the loop and the housekeeping until ctx ends (one leadership term).
func (c *Controller) Run(ctx context.Context) {
	c.loop.Run(ctx)
}

// due reports whether key may sync now: at most once per sync period, except
// when its spec changed (generation not yet observed); otherwise it re-enqueues.
func (c *Controller) due(key string, h *autoscalerv1.HorizontalPodAutoscaler, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	last, ok := c.lastSync[key]
	if ok && h.GetStatus().GetObservedGeneration() == h.GetMetadata().GetGeneration() {
		if wait := c.cfg.SyncPeriod - now.Sub(last); wait > c.cfg.SyncPeriod/10 {
			c.loop.EnqueueAfter(key, wait)
			return false
		}
	}
	c.lastSync[key] = now
	return true
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	delete(c.lastSync, key)
	c.mu.Unlock()
}

// sync is reconcileAutoscaler.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	hpa, err := kinds.HPAs.Get(ctx, c.db.Pool, ns, name)
	if errors.Is(err, store.ErrNotFound) {
		c.forget(key)
		_, err := c.db.Pool.Exec(ctx, "DELETE FROM hpa_history WHERE uid NOT IN (SELECT uid FROM objects WHERE kind=$1)", kinds.HPAs.Name)
		return err
	}
	if err != nil {
		return err
	}
	now := c.clock.Now()
	if hpa.GetMetadata().GetDeletionTimestamp() != nil || !c.due(key, hpa, now) {
		return nil
	}
	hist, err := c.loadHistory(ctx, hpa.GetMetadata().GetUid())
	if err != nil {
		return err
	}
	st := proto.Clone(orEmpty(hpa.Status)).(*autoscalerv1.HorizontalPodAutoscalerStatus)
	st.ObservedGeneration = proto.Int64(hpa.GetMetadata().GetGeneration())
	var evs []reconcile.Event
	spec := hpa.GetSpec()
	ref := spec.GetScaleTargetRef()

	scale, err := c.scales.GetScale(ctx, ref.GetKind(), ns, ref.GetName())
	if err != nil {
		msg := fmt.Sprintf("the HPA controller was unable to get the target's current scale: %v", err)
		setCondition(st, now, reconcile.Cond{Type: reconcile.AbleToScale, Status: "False", Reason: "FailedGetScale", Message: msg})
		evs = append(evs, reconcile.Event{Type: events.Warning, Reason: "FailedGetScale", Message: err.Error()})
		st.CurrentMetrics = nil
		return c.write(ctx, hpa, st, hist, evs)
	}
	if scale.GetStatus().GetSelector() == "" {
		setCondition(st, now, reconcile.Cond{Type: reconcile.AbleToScale, Status: "True", Reason: "SucceededGetScale", Message: "the HPA controller was able to get the target's current scale"})
		setCondition(st, now, reconcile.Cond{Type: reconcile.ScalingActive, Status: "False", Reason: "InvalidSelector", Message: "the HPA target's scale is missing a selector"})
		evs = append(evs, reconcile.Event{Type: events.Warning, Reason: "SelectorRequired", Message: "selector is required"})
		return c.write(ctx, hpa, st, hist, evs)
	}
	o := &observed{namespace: ns, selector: scale.GetStatus().GetSelector(), specReplicas: scale.GetSpec().GetReplicas(), statusReplicas: scale.GetStatus().GetReplicas()}
	pods, err := c.pods.ListPods(ctx, ns, o.selector)
	if err != nil {
		return fmt.Errorf("list pods of %s: %w", key, err)
	}
	o.pods = toPods(pods)

	var results []reconcile.MetricResult
	in := reconcile.Input{SpecReplicas: o.specReplicas, MinReplicas: spec.GetMinReplicas(), MaxReplicas: spec.GetMaxReplicas(),
		Behavior: spec.GetBehavior(), DownscaleStabilization: c.cfg.DownscaleStabilization}
	if o.specReplicas != 0 && o.specReplicas >= in.MinReplicas && o.specReplicas <= in.MaxReplicas {
		for _, m := range spec.GetMetrics() {
			results = append(results, c.computeMetric(ctx, now, m, o))
		}
	}
	in.Metrics = results
	d := reconcile.Decide(now, &hist, in)
	for _, cond := range d.Conditions {
		setCondition(st, now, cond)
	}
	evs = append(evs, d.Events...)
	st.CurrentReplicas = o.specReplicas
	st.CurrentMetrics = d.MetricStatuses
	if d.Err != nil {
		st.DesiredReplicas = proto.Int32(o.specReplicas)
		return c.write(ctx, hpa, st, hist, evs)
	}
	if d.Rescale {
		if _, err := c.scales.UpdateScale(ctx, ref.GetKind(), ns, ref.GetName(), d.Desired); err != nil {
			setCondition(st, now, reconcile.Cond{Type: reconcile.AbleToScale, Status: "False", Reason: "FailedUpdateScale",
				Message: fmt.Sprintf("the HPA controller was unable to update the target scale: %v", err)})
			evs = append(evs, reconcile.Event{Type: events.Warning, Reason: "FailedRescale",
				Message: fmt.Sprintf("New size: %d; reason: %s; error: %v", d.Desired, d.Reason, err)})
			st.DesiredReplicas = proto.Int32(o.specReplicas)
			return c.write(ctx, hpa, st, hist, evs)
		}
		setCondition(st, now, reconcile.Cond{Type: reconcile.AbleToScale, Status: "True", Reason: "SucceededRescale",
			Message: fmt.Sprintf("the HPA controller was able to update the target scale to %d", d.Desired)})
		evs = append(evs, reconcile.Event{Type: events.Normal, Reason: "SuccessfulRescale", Message: fmt.Sprintf("New size: %d; reason: %s", d.Desired, d.Reason)})
		reconcile.StoreScaleEvent(now, &hist, spec.GetBehavior(), c.cfg.DownscaleStabilization, o.specReplicas, d.Desired)
		st.LastScaleTime = timestamppb.New(now.Truncate(time.Second))
		c.log.Info("rescaled", "hpa", key, "from", o.specReplicas, "to", d.Desired, "reason", d.Reason)
	}
	st.DesiredReplicas = proto.Int32(d.Desired)
	return c.write(ctx, hpa, st, hist, evs)
}

func orEmpty(s *autoscalerv1.HorizontalPodAutoscalerStatus) *autoscalerv1.HorizontalPodAutoscalerStatus {
	if s == nil {
		return &autoscalerv1.HorizontalPodAutoscalerStatus{}
	}
	return s
}

// setCondition is Kubernetes' setCondition: lastTransitionTime moves only when the
// status changes.
func setCondition(st *autoscalerv1.HorizontalPodAutoscalerStatus, now time.Time, c reconcile.Cond) {
	ts := timestamppb.New(now.Truncate(time.Second))
	for _, existing := range st.Conditions {
		if existing.GetType() == c.Type {
			if existing.GetStatus() != c.Status {
				existing.LastTransitionTime = ts
			}
			existing.Status, existing.Reason, existing.Message = c.Status, c.Reason, c.Message
			return
		}
	}
	st.Conditions = append(st.Conditions, &corev1.Condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: ts})
}

func (c *Controller) loadHistory(ctx context.Context, uid string) (reconcile.History, error) {
	var h reconcile.History
	var raw []byte
	err := c.db.Pool.QueryRow(ctx, "SELECT history FROM hpa_history WHERE uid=$1", uid).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("load history %s: %w", uid, err)
	}
	return h, json.Unmarshal(raw, &h)
}

// write stores the status (when changed), the history and the events in one
// transaction, on the current version of the object (a concurrent spec update wins
// and the next sync recomputes).
func (c *Controller) write(ctx context.Context, hpa *autoscalerv1.HorizontalPodAutoscaler, st *autoscalerv1.HorizontalPodAutoscalerStatus, hist reconcile.History, evs []reconcile.Event) error {
	m := hpa.GetMetadata()
	raw, err := json.Marshal(hist)
	if err != nil {
		return err
	}
	now := c.clock.Now()
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := kinds.HPAs.GetForUpdate(ctx, tx, m.GetNamespace(), m.GetName())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.GetMetadata().GetUid() != m.GetUid() {
			return nil
		}
		if cur.GetMetadata().GetGeneration() != hpa.GetMetadata().GetGeneration() {
			st.ObservedGeneration = proto.Int64(hpa.GetMetadata().GetGeneration())
		}
		if !proto.Equal(cur.Status, st) {
			cur.Status = st
			if _, err := kinds.HPAs.Update(ctx, tx, cur); err != nil {
				return fmt.Errorf("update status of %s/%s: %w", m.GetNamespace(), m.GetName(), err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO hpa_history (uid, history, updated_at) VALUES ($1, $2, now())
			ON CONFLICT (uid) DO UPDATE SET history = EXCLUDED.history, updated_at = now()`, m.GetUid(), raw); err != nil {
			return err
		}
		ref := events.Ref("autoscaling/v2", "HorizontalPodAutoscaler", m)
		for _, e := range evs {
			if err := events.Record(ctx, tx, now, Component, ref, e.Type, e.Reason, e.Message); err != nil {
				return err
			}
		}
		return nil
	})
}
