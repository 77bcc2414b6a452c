package service

import (
	"github.com/podwarden/podwarden/services/node/internal/metrics"
	"github.com/podwarden/podwarden/shared/app"

	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
)

// registerMetrics serves the simulated Loads (sim.podwarden.io/v1) and the metrics
// APIs computed from them (metrics.k8s.io, custom and external metrics).
func registerMetrics(a *app.App, cfg Config) {
	metricsv1.RegisterLoadServiceServer(a.GRPC.GRPC, &metrics.LoadServer{R: metrics.LoadResource(a.DB, cfg.Clock.Now)})
	metricsv1.RegisterMetricsServiceServer(a.GRPC.GRPC, &metrics.Server{DB: a.DB, Clock: cfg.Clock})
}
