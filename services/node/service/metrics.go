package service

import (
	"context"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/metrics"
	"github.com/podwarden/podwarden/services/node/internal/sandbox"
	"github.com/podwarden/podwarden/shared/app"

	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
)

// registerMetrics serves the simulated Loads (sim.podwarden.io/v1) and the metrics
// APIs computed from them (metrics.k8s.io, custom and external metrics).
// With sandboxes (podnet set), an exec runtime pod's CPU and memory are
// measured from its processes' cgroup instead.
func registerMetrics(ctx context.Context, a *app.App, cfg Config, podnet *sandbox.Network) {
	metricsv1.RegisterLoadServiceServer(a.GRPC.GRPC, &metrics.LoadServer{R: metrics.LoadResource(a.DB, cfg.Clock.Now)})
	srv := &metrics.Server{DB: a.DB, Clock: cfg.Clock}
	if podnet != nil {
		u := &usageSampler{n: podnet, samples: map[string][]cpuSample{}}
		go u.run(ctx, 5*time.Second)
		srv.Measured = u.measured
	}
	metricsv1.RegisterMetricsServiceServer(a.GRPC.GRPC, srv)
}
