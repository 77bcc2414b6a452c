// Package service is the autoscaler service: HorizontalPodAutoscalers (autoscaling/v2,
// and v1 by conversion) over gRPC, reconciled by the leader replica.
package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"

	"github.com/podwarden/podwarden/services/autoscaler/internal/clients"
	"github.com/podwarden/podwarden/services/autoscaler/internal/controller"
	"github.com/podwarden/podwarden/services/autoscaler/internal/migrations"
	"github.com/podwarden/podwarden/services/autoscaler/internal/server"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/events"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Default addresses.
const (
	DefaultGRPCAddr        = "127.0.0.1:9105"
	DefaultDeploymentAddr  = "127.0.0.1:9101"
	DefaultStatefulSetAddr = "127.0.0.1:9102"
	DefaultNodeAddr        = "127.0.0.1:9106"
)

// Config configures the service.
type Config struct {
	App app.Config
	// DeploymentAddr serves the scale subresource of Deployments, ReplicaSets and
	// ReplicationControllers, StatefulSetAddr that of StatefulSets; NodeAddr serves
	// pods and metrics.
	DeploymentAddr  string
	StatefulSetAddr string
	NodeAddr        string
	// SyncPeriod, DownscaleStabilization, Tolerance, CPUInitializationPeriod and
	// InitialReadinessDelay are kube-controller-manager's --horizontal-pod-autoscaler-*
	// flags (defaults 15s, 5m, 0.1, 5m, 30s).
	SyncPeriod              time.Duration
	DownscaleStabilization  time.Duration
	Tolerance               float64
	CPUInitializationPeriod time.Duration
	InitialReadinessDelay   time.Duration
	Clock                   clock.Clock
}

// FromEnv fills unset fields from PODWARDEN_DEPLOYMENT_ADDR, PODWARDEN_STATEFULSET_ADDR, PODWARDEN_NODE_ADDR,
// PODWARDEN_HPA_SYNC_PERIOD, PODWARDEN_HPA_DOWNSCALE_STABILIZATION, PODWARDEN_HPA_TOLERANCE,
// PODWARDEN_HPA_CPU_INITIALIZATION_PERIOD and PODWARDEN_HPA_INITIAL_READINESS_DELAY.
func (c *Config) FromEnv() error {
	str := func(dst *string, env, def string) {
		if *dst == "" {
			*dst = os.Getenv(env)
		}
		if *dst == "" {
			*dst = def
		}
	}
	str(&c.DeploymentAddr, "PODWARDEN_DEPLOYMENT_ADDR", DefaultDeploymentAddr)
	str(&c.StatefulSetAddr, "PODWARDEN_STATEFULSET_ADDR", DefaultStatefulSetAddr)
	str(&c.NodeAddr, "PODWARDEN_NODE_ADDR", DefaultNodeAddr)
	var errs []error
	dur := func(dst *time.Duration, env string) {
		if v := os.Getenv(env); v != "" && *dst == 0 {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
			*dst = d
		}
	}
	dur(&c.SyncPeriod, "PODWARDEN_HPA_SYNC_PERIOD")
	dur(&c.DownscaleStabilization, "PODWARDEN_HPA_DOWNSCALE_STABILIZATION")
	dur(&c.CPUInitializationPeriod, "PODWARDEN_HPA_CPU_INITIALIZATION_PERIOD")
	dur(&c.InitialReadinessDelay, "PODWARDEN_HPA_INITIAL_READINESS_DELAY")
	if v := os.Getenv("PODWARDEN_HPA_TOLERANCE"); v != "" && c.Tolerance == 0 {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("PODWARDEN_HPA_TOLERANCE: %w", err))
		}
		c.Tolerance = f
	}
	return errors.Join(errs...)
}

// Validate reports bad settings.
func (c *Config) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{"sync period": c.SyncPeriod, "downscale stabilization": c.DownscaleStabilization,
		"cpu initialization period": c.CPUInitializationPeriod, "initial readiness delay": c.InitialReadinessDelay} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", name, d))
		}
	}
	if c.Tolerance < 0 {
		errs = append(errs, fmt.Errorf("tolerance %v is negative", c.Tolerance))
	}
	return errors.Join(errs...)
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.DeploymentAddr == "" {
		cfg.DeploymentAddr = DefaultDeploymentAddr
	}
	if cfg.StatefulSetAddr == "" {
		cfg.StatefulSetAddr = DefaultStatefulSetAddr
	}
	if cfg.NodeAddr == "" {
		cfg.NodeAddr = DefaultNodeAddr
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	a, err := app.New(ctx, "autoscaler", cfg.App, migrations.FS)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Now = cfg.Clock.Now
	dialOpts, err := a.Config.GRPCSecurity.DialOptions()
	if err != nil {
		return err
	}
	depConn, err := grpc.NewClient(cfg.DeploymentAddr, dialOpts...)
	if err != nil {
		return fmt.Errorf("deployment service %s: %w", cfg.DeploymentAddr, err)
	}
	defer depConn.Close()
	stsConn, err := grpc.NewClient(cfg.StatefulSetAddr, dialOpts...)
	if err != nil {
		return fmt.Errorf("statefulset service %s: %w", cfg.StatefulSetAddr, err)
	}
	defer stsConn.Close()
	nodeConn, err := grpc.NewClient(cfg.NodeAddr, dialOpts...)
	if err != nil {
		return fmt.Errorf("node service %s: %w", cfg.NodeAddr, err)
	}
	defer nodeConn.Close()

	autoscalerv1.RegisterHorizontalPodAutoscalerServiceServer(a.GRPC.GRPC, &server.Server{R: server.Resource(a.DB, a.Watch, cfg.Clock.Now)})
	corev1.RegisterEventServiceServer(a.GRPC.GRPC, &events.Server{Hub: a.Watch})
	node := clients.NewNode(nodeConn)
	ctl := controller.New(a.DB, a.Log, cfg.Clock, controller.Config{
		Workers: a.Config.Workers, SyncPeriod: cfg.SyncPeriod, DownscaleStabilization: cfg.DownscaleStabilization,
		Tolerance: cfg.Tolerance, CPUInitializationPeriod: cfg.CPUInitializationPeriod, InitialReadinessDelay: cfg.InitialReadinessDelay,
	}, clients.NewScales(depConn, stsConn), node, node)
	return a.Run(ctx, ctl.OnObject, ctl.Run)
}
