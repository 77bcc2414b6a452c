// Command core runs the core service (Leases, ConfigMaps, Secrets: the kinds Kubernetes keeps in
// the apiserver itself). Configuration comes from flags and PODWARDEN_* variables.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/podwarden/podwarden/services/core/service"
	"github.com/podwarden/podwarden/shared/app"
)

func main() {
	var cfg service.Config
	flag.StringVar(&cfg.App.GRPCAddr, "grpc-addr", "", "gRPC listen address (PODWARDEN_GRPC_ADDR, default "+service.DefaultGRPCAddr+")")
	flag.StringVar(&cfg.App.PostgresDSN, "postgres-dsn", "", "Postgres DSN (PODWARDEN_POSTGRES_DSN)")
	flag.StringVar(&cfg.App.NATSURL, "nats-url", "", "NATS URL(s) (PODWARDEN_NATS_URL)")
	flag.StringVar(&cfg.App.MetricsAddr, "metrics-addr", "", "Prometheus /metrics listen address, \"off\" disables it (PODWARDEN_METRICS_ADDR, default "+app.DefaultMetricsAddr(service.DefaultGRPCAddr)+")")
	flag.StringVar(&cfg.RootCAFile, "root-ca-file", "", "CA certificate (PEM) published in every namespace's kube-root-ca.crt: the gateway's serving CA (PODWARDEN_ROOT_CA_FILE; default: one generated and kept)")
	flag.StringVar(&cfg.App.ReplicaID, "replica-id", "", "replica identity for leader election (PODWARDEN_REPLICA_ID, default hostname-pid)")
	flag.StringVar(&cfg.Peers.NodeAddr, "node-addr", "", "node service (PODWARDEN_NODE_ADDR, default "+service.DefaultNodeAddr+")")
	flag.StringVar(&cfg.Peers.DeploymentAddr, "deployment-addr", "", "deployment service (PODWARDEN_DEPLOYMENT_ADDR, default "+service.DefaultDeploymentAddr+")")
	flag.StringVar(&cfg.Peers.StatefulSetAddr, "statefulset-addr", "", "statefulset service (PODWARDEN_STATEFULSET_ADDR, default "+service.DefaultStatefulSetAddr+")")
	flag.Parse()
	cfg.App.FromEnv(service.DefaultGRPCAddr)
	cfg.FromEnv()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := service.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "core:", err)
		os.Exit(1)
	}
}
