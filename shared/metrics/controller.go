package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Controllers are the metrics of a service's reconcile loops: the workqueue families
// of client-go and, per controller, the duration and outcome of each sync under
// controller-runtime's names (controller_runtime_reconcile_time_seconds,
// controller_runtime_reconcile_total, controller_runtime_reconcile_errors_total), so
// the dashboards written for Kubernetes operators read them unchanged.
type Controllers struct {
	Workqueue    *Workqueue
	syncDuration *prometheus.HistogramVec
	syncTotal    *prometheus.CounterVec
	syncErrors   *prometheus.CounterVec
}

// Sync outcomes (the result label).
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

// NewControllers registers the controller families on reg.
func NewControllers(reg prometheus.Registerer) *Controllers {
	c := &Controllers{
		Workqueue: NewWorkqueue(reg),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "controller_runtime_reconcile_time_seconds",
			Help: "Length of time per reconciliation per controller",
			// controller-runtime's buckets: 5ms to 60s.
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
				1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60},
		}, []string{"controller"}),
		syncTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "controller_runtime_reconcile_total",
			Help: "Total number of reconciliations per controller",
		}, []string{"controller", "result"}),
		syncErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "controller_runtime_reconcile_errors_total",
			Help: "Total number of reconciliation errors per controller",
		}, []string{"controller"}),
	}
	reg.MustRegister(c.syncDuration, c.syncTotal, c.syncErrors)
	return c
}

// ObserveSync records one sync of controller that took d and failed when err != nil.
func (c *Controllers) ObserveSync(controller string, d time.Duration, err error) {
	c.syncDuration.WithLabelValues(controller).Observe(d.Seconds())
	result := ResultSuccess
	if err != nil {
		result = ResultError
		c.syncErrors.WithLabelValues(controller).Inc()
	}
	c.syncTotal.WithLabelValues(controller, result).Inc()
}

type controllersKey struct{}

// WithControllers returns ctx carrying c: the service bootstrap hands it to the
// controllers it starts (their Run takes the leader's context), so a service's
// controllers report to its registry without each one being wired by hand.
func WithControllers(ctx context.Context, c *Controllers) context.Context {
	return context.WithValue(ctx, controllersKey{}, c)
}

// ControllersFrom returns the metrics carried by ctx, or nil.
func ControllersFrom(ctx context.Context) *Controllers {
	c, _ := ctx.Value(controllersKey{}).(*Controllers)
	return c
}
