// Command node runs the node service: the simulated fleet's Nodes and Pods, its
// scheduler and kubelet, Services with their Endpoints, and the cluster DNS.
// Configuration comes from flags and PODWARDEN_* variables (PODWARDEN_SIM_*
// for the fleet and the simulated delays, PODWARDEN_CLUSTER_CIDR,
// _NODE_CIDR_MASK_SIZE and _NODE_NETWORK for its address plan,
// PODWARDEN_DNS_ADDR for the DNS).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/podwarden/podwarden/services/node/internal/sandbox"
	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/services/node/service"
	"github.com/podwarden/podwarden/shared/app"
)

func main() {
	var cfg service.Config
	cfg.SimFromEnv()
	cfg.DNSFromEnv()
	cfg.StreamingFromEnv()
	cfg.SandboxFromEnv()
	flag.StringVar(&cfg.App.GRPCAddr, "grpc-addr", "", "gRPC listen address (PODWARDEN_GRPC_ADDR, default "+service.DefaultGRPCAddr+")")
	flag.StringVar(&cfg.App.MetricsAddr, "metrics-addr", "", "Prometheus /metrics listen address, \"off\" disables it (PODWARDEN_METRICS_ADDR, default "+app.DefaultMetricsAddr(service.DefaultGRPCAddr)+")")
	flag.StringVar(&cfg.App.PostgresDSN, "postgres-dsn", "", "Postgres DSN (PODWARDEN_POSTGRES_DSN)")
	flag.StringVar(&cfg.App.NATSURL, "nats-url", "", "NATS URL(s) (PODWARDEN_NATS_URL)")
	flag.StringVar(&cfg.App.ReplicaID, "replica-id", "", "replica identity for leader election (PODWARDEN_REPLICA_ID, default hostname-pid)")
	flag.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "nodes bootstrapped at first start when none exists; negative: none (PODWARDEN_SIM_NODES)")
	flag.StringVar(&cfg.ClusterCIDR, "cluster-cidr", cfg.ClusterCIDR, "CIDR the nodes' podCIDRs are cut from, like kube-controller-manager's --cluster-cidr (PODWARDEN_CLUSTER_CIDR)")
	flag.IntVar(&cfg.NodeCIDRMaskSize, "node-cidr-mask-size", cfg.NodeCIDRMaskSize, "prefix length of each node's podCIDR, at most 30 (PODWARDEN_NODE_CIDR_MASK_SIZE)")
	flag.StringVar(&cfg.NodeNetwork, "node-network", cfg.NodeNetwork, "network of the nodes' InternalIPs, from .2 on (PODWARDEN_NODE_NETWORK)")
	flag.StringVar(&cfg.NodeCPU, "node-cpu", cfg.NodeCPU, "cpu capacity of each node (PODWARDEN_SIM_NODE_CPU)")
	flag.StringVar(&cfg.NodeMemory, "node-memory", cfg.NodeMemory, "memory capacity of each node (PODWARDEN_SIM_NODE_MEMORY)")
	flag.IntVar(&cfg.NodePods, "node-pods", cfg.NodePods, "pod capacity of each node (PODWARDEN_SIM_NODE_PODS)")
	flag.DurationVar(&cfg.ScheduleDelay, "schedule-delay", cfg.ScheduleDelay, "delay before a new pod is scheduled (PODWARDEN_SIM_SCHEDULE_DELAY)")
	flag.DurationVar(&cfg.StartDelay, "start-delay", cfg.StartDelay, "time from scheduled to running (PODWARDEN_SIM_START_DELAY)")
	flag.DurationVar(&cfg.ReadyDelay, "ready-delay", cfg.ReadyDelay, "time from running to ready without a readiness probe (PODWARDEN_SIM_READY_DELAY)")
	flag.DurationVar(&cfg.TerminationDelay, "termination-delay", cfg.TerminationDelay, "time a deleted pod takes to stop, at most its grace period (PODWARDEN_SIM_TERMINATION_DELAY)")
	flag.DurationVar(&cfg.CrashLoopBackOff, "crash-backoff", cfg.CrashLoopBackOff, "first crash-loop back-off, doubling up to 30x (PODWARDEN_SIM_CRASH_BACKOFF)")
	flag.StringVar(&cfg.Runtime, "runtime", cfg.Runtime, "container runtime: sim, or exec to really run commands as local processes (PODWARDEN_RUNTIME; exec runs arbitrary commands, see the README)")
	flag.Float64Var(&cfg.TimeScale, "time-scale", cfg.TimeScale, "multiplier of simulated container run times, e.g. 0.1 (PODWARDEN_SIM_TIME_SCALE)")
	flag.StringVar(&cfg.DNSAddr, "dns-addr", cfg.DNSAddr, "cluster DNS address, UDP and TCP; \"\" or off disables it (PODWARDEN_DNS_ADDR)")
	flag.Func("missing-images", "comma-separated patterns of images that fail to pull, \"none\" for none (PODWARDEN_SIM_MISSING_IMAGES, default "+strings.Join(sim.DefaultMissingImages, ",")+")", func(v string) error {
		cfg.MissingImages = []string{}
		if v != "none" && v != "" {
			cfg.MissingImages = strings.Split(v, ",")
		}
		return nil
	})
	flag.StringVar(&cfg.StreamingAddr, "streaming-addr", cfg.StreamingAddr, "streaming server address (exec, attach, port-forward, proxy), reached by the gateway (PODWARDEN_STREAMING_ADDR)")
	flag.StringVar(&cfg.Sandbox, "sandbox", cfg.Sandbox, "pod sandboxes from Linux namespaces: auto (when the machine allows it), on (required) or off (PODWARDEN_SANDBOX)")
	flag.StringVar(&cfg.SandboxDir, "sandbox-dir", cfg.SandboxDir, "folder of the machine's pod networks (PODWARDEN_SANDBOX_DIR)")
	flag.StringVar(&cfg.SandboxRoutes, "sandbox-routes", cfg.SandboxRoutes, "route the cluster and service CIDRs into the pod network: auto (unless this is the machine's own network namespace), on or off (PODWARDEN_SANDBOX_ROUTES)")
	clean := flag.Bool("sandbox-clean", false, "remove the pod networks that stopped node services left in -sandbox-dir (after a kill -9; the next start does it too), then exit")
	flag.Parse()
	if *clean {
		sandbox.CleanStale(cfg.SandboxDir, slog.Default())
		return
	}
	cfg.App.FromEnv(service.DefaultGRPCAddr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := service.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		os.Exit(1)
	}
}
