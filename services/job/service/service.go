// Package service is the job service: Jobs and CronJobs over gRPC, reconciled
// by the leader replica.
package service

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/podwarden/podwarden/services/job/internal/controller"
	"github.com/podwarden/podwarden/services/job/internal/kinds"
	"github.com/podwarden/podwarden/services/job/internal/migrations"
	"github.com/podwarden/podwarden/services/job/internal/reconcile"
	"github.com/podwarden/podwarden/services/job/internal/server"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// DefaultGRPCAddr is where the service listens unless told otherwise.
const DefaultGRPCAddr = "127.0.0.1:9104"

// Config configures the service.
type Config struct {
	App   app.Config
	Clock clock.Clock
	// TimeScale multiplies the Job pod failure back-off (10 s doubling, capped at
	// 6 min) and ttlSecondsAfterFinished: 0.01 runs them 100 times faster, for
	// tests and demos. 0 means 1 (Kubernetes' timing).
	TimeScale float64
}

// TimeScaleFromEnv reads PODWARDEN_JOB_TIME_SCALE (a positive number).
func (c *Config) TimeScaleFromEnv() {
	if v, err := strconv.ParseFloat(os.Getenv("PODWARDEN_JOB_TIME_SCALE"), 64); err == nil && v > 0 {
		c.TimeScale = v
	}
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	a, err := app.New(ctx, "job", cfg.App, migrations.FS)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Now = cfg.Clock.Now
	res := server.NewResources(a.DB, a.Watch, cfg.Clock.Now)
	jobv1.RegisterJobServiceServer(a.GRPC.GRPC, &server.JobServer{R: res})
	jobv1.RegisterCronJobServiceServer(a.GRPC.GRPC, &server.CronJobServer{R: res})
	corev1.RegisterEventServiceServer(a.GRPC.GRPC, &events.Server{Hub: a.Watch})
	caches := controller.Caches{Jobs: res.Jobs.Cache(), CronJobs: res.CronJobs.Cache(), Pods: watch.For(a.Watch, kinds.Pods, nil)}
	ctl := controller.New(a.DB, a.Bus, a.Watch, caches, a.Log, cfg.Clock, controller.Config{
		Workers: a.Config.Workers, Resync: a.Config.Resync, BackOff: reconcile.DefaultBackOff.Scaled(cfg.TimeScale),
		SyncBatchPeriod: scaled(controller.SyncJobBatchPeriod, cfg.TimeScale),
	})
	return a.Run(ctx, nil, ctl.Run) // the caches wake the loops
}

// scaled is d times the time scale (d itself for 0 or 1).
func scaled(d time.Duration, f float64) time.Duration {
	if f <= 0 || f == 1 {
		return d
	}
	return time.Duration(float64(d) * f)
}
