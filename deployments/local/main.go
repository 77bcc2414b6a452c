// Command local runs all of podwarden on one machine (`make run`): a private
// Postgres (data under ./.data/postgres), NATS with JetStream (./.data/nats), every
// service and the REST gateway, in one process. Ctrl-C stops everything; the data
// stays for the next run (`make clean` removes it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/podwarden/podwarden/gateway"
	autoscalersvc "github.com/podwarden/podwarden/services/autoscaler/service"
	coresvc "github.com/podwarden/podwarden/services/core/service"
	daemonsetsvc "github.com/podwarden/podwarden/services/daemonset/service"
	deploymentsvc "github.com/podwarden/podwarden/services/deployment/service"
	jobsvc "github.com/podwarden/podwarden/services/job/service"
	nodesvc "github.com/podwarden/podwarden/services/node/service"
	statefulsetsvc "github.com/podwarden/podwarden/services/statefulset/service"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/devenv"
)

type options struct {
	dataDir    string
	httpAddr   string
	natsPort   int
	pgPort     int
	nodes      int
	dnsAddr    string
	logLevel   string
	startDelay time.Duration
	readyDelay time.Duration
	stopDelay  time.Duration
	// the address plan
	clusterCIDR  string
	nodeMaskSize int
	nodeNetwork  string
	secure       bool
	// pod sandboxes
	sandbox, sandboxDir, sandboxRoutes string
}

func main() {
	var o options
	flag.StringVar(&o.dataDir, "data", ".data", "folder for Postgres and NATS data")
	flag.StringVar(&o.httpAddr, "http", "127.0.0.1:8080", "gateway address")
	flag.IntVar(&o.natsPort, "nats-port", 4222, "NATS client port on 127.0.0.1")
	flag.IntVar(&o.pgPort, "postgres-port", 15432, "private Postgres port on 127.0.0.1")
	flag.IntVar(&o.nodes, "nodes", 3, "simulated nodes at first start (control-plane, node-1, ...)")
	var env nodesvc.Config // the node service's settings that come from PODWARDEN_* variables
	env.DNSFromEnv()
	env.PlanFromEnv()
	env.SandboxFromEnv()
	flag.StringVar(&o.clusterCIDR, "cluster-cidr", env.ClusterCIDR, "CIDR the nodes' podCIDRs are cut from (PODWARDEN_CLUSTER_CIDR)")
	flag.IntVar(&o.nodeMaskSize, "node-cidr-mask-size", env.NodeCIDRMaskSize, "prefix length of each node's podCIDR (PODWARDEN_NODE_CIDR_MASK_SIZE)")
	flag.StringVar(&o.nodeNetwork, "node-network", env.NodeNetwork, "network of the nodes' InternalIPs (PODWARDEN_NODE_NETWORK)")
	flag.StringVar(&o.dnsAddr, "dns", env.DNSAddr, `cluster DNS address, UDP and TCP; "" or off disables it (PODWARDEN_DNS_ADDR)`)
	flag.StringVar(&o.sandbox, "sandbox", env.Sandbox, "pod sandboxes from Linux namespaces: auto (when the machine allows it), on or off (PODWARDEN_SANDBOX)")
	flag.StringVar(&o.sandboxRoutes, "sandbox-routes", env.SandboxRoutes, "route the cluster and service CIDRs into the pod network: auto (unless this is the machine's own network namespace), on or off (PODWARDEN_SANDBOX_ROUTES)")
	o.sandboxDir = env.SandboxDir
	flag.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	flag.DurationVar(&o.startDelay, "start-delay", 500*time.Millisecond, "simulated time from scheduled to running")
	flag.DurationVar(&o.readyDelay, "ready-delay", 500*time.Millisecond, "simulated time from running to ready")
	flag.DurationVar(&o.stopDelay, "termination-delay", time.Second, "simulated time a deleted pod takes to stop")
	flag.BoolVar(&o.secure, "secure", false, "TLS and authentication: a local CA, certificates and a token under <data>/pki, an https gateway and a kubeconfig for it, mutual TLS among the services")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "podwarden:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := app.NewLogger(o.logLevel)
	data, err := filepath.Abs(o.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	_ = os.Chmod(data, 0o755) // the postgres user must traverse it

	log.Info("starting postgres", "dir", filepath.Join(data, "postgres"), "port", o.pgPort)
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresConfig{Dir: filepath.Join(data, "postgres"), Port: o.pgPort, Durable: true})
	if err != nil {
		return err
	}
	defer func() {
		if err := pg.Stop(); err != nil {
			log.Warn("stop postgres", "err", err)
		}
	}()
	nats, err := devenv.StartNATS(devenv.NATSConfig{StoreDir: filepath.Join(data, "nats"), Port: o.natsPort})
	if err != nil {
		return err
	}
	defer nats.Stop()

	base := app.Config{PostgresDSN: pg.DSN, NATSURL: nats.URL, Log: log}
	var sec *secureFiles
	if o.secure {
		f, err := setupSecure(data, o.httpAddr)
		if err != nil {
			return err
		}
		sec = &f
		base.GRPCSecurity = f.grpcSecurity()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		cfg := base
		cfg.GRPCAddr = nodesvc.DefaultGRPCAddr
		cfg.MetricsAddr = app.DefaultMetricsAddr(nodesvc.DefaultGRPCAddr)
		return named("node", nodesvc.Run(gctx, nodesvc.Config{App: cfg, Nodes: o.nodes, DNSAddr: o.dnsAddr,
			ClusterCIDR: o.clusterCIDR, NodeCIDRMaskSize: o.nodeMaskSize, NodeNetwork: o.nodeNetwork,
			StartDelay: o.startDelay, ReadyDelay: o.readyDelay, TerminationDelay: o.stopDelay, CrashLoopBackOff: 10 * time.Second,
			Sandbox: o.sandbox, SandboxDir: o.sandboxDir, SandboxRoutes: o.sandboxRoutes}))
	})
	g.Go(func() error {
		cfg := base
		cfg.GRPCAddr = deploymentsvc.DefaultGRPCAddr
		cfg.MetricsAddr = app.DefaultMetricsAddr(deploymentsvc.DefaultGRPCAddr)
		return named("deployment", deploymentsvc.Run(gctx, deploymentsvc.Config{App: cfg}))
	})
	g.Go(func() error {
		cfg := base
		cfg.GRPCAddr = jobsvc.DefaultGRPCAddr
		cfg.MetricsAddr = app.DefaultMetricsAddr(jobsvc.DefaultGRPCAddr)
		return named("job", jobsvc.Run(gctx, jobsvc.Config{App: cfg}))
	})
	g.Go(func() error {
		cfg := base
		cfg.GRPCAddr = statefulsetsvc.DefaultGRPCAddr
		cfg.MetricsAddr = app.DefaultMetricsAddr(statefulsetsvc.DefaultGRPCAddr)
		return named("statefulset", statefulsetsvc.Run(gctx, statefulsetsvc.Config{App: cfg}))
	})
	g.Go(func() error {
		cfg := base
		cfg.GRPCAddr = daemonsetsvc.DefaultGRPCAddr
		cfg.MetricsAddr = app.DefaultMetricsAddr(daemonsetsvc.DefaultGRPCAddr)
		return named("daemonset", daemonsetsvc.Run(gctx, daemonsetsvc.Config{App: cfg}))
	})
	g.Go(func() error {
		cfg := base
		cfg.GRPCAddr = autoscalersvc.DefaultGRPCAddr
		cfg.MetricsAddr = app.DefaultMetricsAddr(autoscalersvc.DefaultGRPCAddr)
		return named("autoscaler", autoscalersvc.Run(gctx, autoscalersvc.Config{App: cfg}))
	})
	g.Go(func() error {
		cfg := base
		cfg.GRPCAddr = coresvc.DefaultGRPCAddr
		cfg.MetricsAddr = app.DefaultMetricsAddr(coresvc.DefaultGRPCAddr)
		core := coresvc.Config{App: cfg}
		core.FromEnv() // the other services' default addresses, for the namespace controller
		if sec != nil {
			core.RootCAFile = sec.caCert // kube-root-ca.crt: the CA of the gateway's certificate
		}
		return named("core", coresvc.Run(gctx, core))
	})
	g.Go(func() error {
		gw := gateway.DefaultConfig()
		gw.ListenAddr = o.httpAddr
		gw.Logger = log.With("service", "gateway")
		if sec != nil {
			sec.gatewayConfig(&gw)
		}
		return named("gateway", gateway.Run(gctx, gw))
	})
	g.Go(func() error {
		printBanner(gctx, log, o, pg, nats, sec)
		return nil
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		log.Info("stopped")
		return nil
	}
	return err
}

func named(name string, err error) error {
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return err
}

// printBanner waits for the gateway to be ready and prints where everything is.
func printBanner(ctx context.Context, log *slog.Logger, o options, pg *devenv.Postgres, nats *devenv.NATS, sec *secureFiles) {
	url := "http://" + o.httpAddr
	wait := devenv.WaitHTTP(ctx, url+"/readyz", 60*time.Second)
	if sec != nil {
		url = kubeconfigServer(o.httpAddr)
		wait = waitHTTPS(ctx, url+"/readyz", sec.caCert, 60*time.Second)
	}
	if err := wait; err != nil {
		if ctx.Err() == nil {
			log.Error("gateway not ready", "err", err)
		}
		return
	}
	dnsHost, dnsPort, err := net.SplitHostPort(o.dnsAddr)
	if err != nil {
		dnsHost, dnsPort = "127.0.0.1", "10053"
	}
	fmt.Fprintf(os.Stderr, `
podwarden is running (Ctrl-C stops it)
  REST gateway      %[1]s   (/healthz, /readyz, /openapi/v2, /metrics)
  gRPC deployment   %[2]s
  gRPC statefulset  %[9]s
  gRPC daemonset    %[3]s
  gRPC job          %[4]s
  gRPC autoscaler   %[5]s
  gRPC node         %[6]s
  gRPC core         %[13]s
  metrics           http://127.0.0.1:9201/metrics (deployment) ... 9207 (core): gRPC port + 100
  cluster DNS       %[10]s
  NATS              %[7]s
  Postgres          %[8]s
try:
  curl -s %[1]s/api/v1/nodes | jq -r '.items[].metadata.name'
  grpcurl -plaintext %[2]s list
  dig @%[11]s -p %[12]s kubernetes.default.svc.cluster.local

`, url, deploymentsvc.DefaultGRPCAddr, daemonsetsvc.DefaultGRPCAddr, jobsvc.DefaultGRPCAddr, autoscalersvc.DefaultGRPCAddr,
		nodesvc.DefaultGRPCAddr, nats.URL, pg.DSN, statefulsetsvc.DefaultGRPCAddr, dnsBanner(o.dnsAddr), dnsHost, dnsPort, coresvc.DefaultGRPCAddr)
	if sec != nil {
		fmt.Fprintf(os.Stderr, `secure (-secure): TLS, client certificates and tokens; files in %[1]s
  export KUBECONFIG=%[2]s
  kubectl get nodes                                  (client certificate: context podwarden)
  kubectl --context podwarden-token get nodes        (bearer token: context podwarden-token)
  grpcurl -cacert %[3]s -cert %[4]s -key %[5]s %[6]s list

`, sec.dir, sec.kubeconfig, sec.caCert, sec.serviceCert, sec.serviceKey, deploymentsvc.DefaultGRPCAddr)
	}
}

// dnsBanner describes the cluster DNS address of the banner.
func dnsBanner(addr string) string {
	if addr == "" || addr == "off" {
		return "off"
	}
	return addr + " (UDP and TCP, zone cluster.local)"
}
