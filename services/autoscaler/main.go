// Command autoscaler runs the autoscaler service (HorizontalPodAutoscalers).
// Configuration comes from flags and PODWARDEN_* variables.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/podwarden/podwarden/services/autoscaler/service"
	"github.com/podwarden/podwarden/shared/app"
)

func main() {
	var cfg service.Config
	flag.StringVar(&cfg.App.GRPCAddr, "grpc-addr", "", "gRPC listen address (PODWARDEN_GRPC_ADDR, default "+service.DefaultGRPCAddr+")")
	flag.StringVar(&cfg.App.MetricsAddr, "metrics-addr", "", "Prometheus /metrics listen address, \"off\" disables it (PODWARDEN_METRICS_ADDR, default "+app.DefaultMetricsAddr(service.DefaultGRPCAddr)+")")
	flag.StringVar(&cfg.App.PostgresDSN, "postgres-dsn", "", "Postgres DSN (PODWARDEN_POSTGRES_DSN)")
	flag.StringVar(&cfg.App.NATSURL, "nats-url", "", "NATS URL(s) (PODWARDEN_NATS_URL)")
	flag.StringVar(&cfg.App.ReplicaID, "replica-id", "", "replica identity for leader election (PODWARDEN_REPLICA_ID, default hostname-pid)")
	flag.StringVar(&cfg.DeploymentAddr, "deployment-addr", "", "deployment service (PODWARDEN_DEPLOYMENT_ADDR, default "+service.DefaultDeploymentAddr+")")
	flag.StringVar(&cfg.StatefulSetAddr, "statefulset-addr", "", "statefulset service (PODWARDEN_STATEFULSET_ADDR, default "+service.DefaultStatefulSetAddr+")")
	flag.StringVar(&cfg.NodeAddr, "node-addr", "", "node service (PODWARDEN_NODE_ADDR, default "+service.DefaultNodeAddr+")")
	flag.DurationVar(&cfg.SyncPeriod, "horizontal-pod-autoscaler-sync-period", 0, "sync period (PODWARDEN_HPA_SYNC_PERIOD, default 15s)")
	flag.DurationVar(&cfg.DownscaleStabilization, "horizontal-pod-autoscaler-downscale-stabilization", 0, "scale-down window (PODWARDEN_HPA_DOWNSCALE_STABILIZATION, default 5m)")
	flag.Float64Var(&cfg.Tolerance, "horizontal-pod-autoscaler-tolerance", 0, "tolerance (PODWARDEN_HPA_TOLERANCE, default 0.1)")
	flag.DurationVar(&cfg.CPUInitializationPeriod, "horizontal-pod-autoscaler-cpu-initialization-period", 0, "(PODWARDEN_HPA_CPU_INITIALIZATION_PERIOD, default 5m)")
	flag.DurationVar(&cfg.InitialReadinessDelay, "horizontal-pod-autoscaler-initial-readiness-delay", 0, "(PODWARDEN_HPA_INITIAL_READINESS_DELAY, default 30s)")
	flag.Parse()
	cfg.App.FromEnv(service.DefaultGRPCAddr)
	if err := cfg.FromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, "autoscaler:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := service.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "autoscaler:", err)
		os.Exit(1)
	}
}
