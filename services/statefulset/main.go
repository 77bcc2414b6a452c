// Command statefulset runs the statefulset service (StatefulSets, their
// ControllerRevisions, PersistentVolumeClaims and PersistentVolumes).
// Configuration comes from flags and PODWARDEN_* variables.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/podwarden/podwarden/services/statefulset/service"
	"github.com/podwarden/podwarden/shared/app"
)

func main() {
	var cfg service.Config
	flag.StringVar(&cfg.App.GRPCAddr, "grpc-addr", "", "gRPC listen address (PODWARDEN_GRPC_ADDR, default "+service.DefaultGRPCAddr+")")
	flag.StringVar(&cfg.App.MetricsAddr, "metrics-addr", "", "Prometheus /metrics listen address, \"off\" disables it (PODWARDEN_METRICS_ADDR, default "+app.DefaultMetricsAddr(service.DefaultGRPCAddr)+")")
	flag.StringVar(&cfg.App.PostgresDSN, "postgres-dsn", "", "Postgres DSN (PODWARDEN_POSTGRES_DSN)")
	flag.StringVar(&cfg.App.NATSURL, "nats-url", "", "NATS URL(s) (PODWARDEN_NATS_URL)")
	flag.StringVar(&cfg.App.ReplicaID, "replica-id", "", "replica identity for leader election (PODWARDEN_REPLICA_ID, default hostname-pid)")
	flag.Parse()
	cfg.App.FromEnv(service.DefaultGRPCAddr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := service.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "statefulset:", err)
		os.Exit(1)
	}
}
