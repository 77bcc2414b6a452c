// Package service is the node service: Nodes and Pods over gRPC, a scheduler
// and a simulated kubelet for a fleet of simulated nodes, run by the leader
// replica, with every change published on JetStream.
package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/podwarden/podwarden/services/node/internal/clusterdns"
	"github.com/podwarden/podwarden/services/node/internal/controller"
	"github.com/podwarden/podwarden/services/node/internal/fleet"
	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/migrations"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/services/node/internal/sandbox"
	"github.com/podwarden/podwarden/services/node/internal/server"
	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// DefaultGRPCAddr is where the service listens unless told otherwise.
const DefaultGRPCAddr = "127.0.0.1:9106"

// Defaults of the fleet.
const (
	DefaultNodes      = 3
	DefaultNodeCPU    = "4"
	DefaultNodeMemory = "16Gi"
	DefaultNodePods   = 110
)

// Config configures the service. The zero value of every field but App is a
// usable default; the delays default to zero (instant pods, for tests and
// benchmarks); the command sets human-visible ones.
type Config struct {
	App app.Config
	// Nodes is the size of the fleet bootstrapped at first start (when no node
	// exists): control-plane, node-1 ... node-(Nodes-1). 0 means 3; negative
	// means no fleet.
	Nodes int
	// ClusterCIDR and NodeCIDRMaskSize are the fleet's address plan
	// (kube-controller-manager's --cluster-cidr and --node-cidr-mask-size):
	// each node gets a podCIDR of that size from the cluster CIDR; NodeNetwork
	// is where the nodes' InternalIPs come from. "" and 0 mean
	// ipam.DefaultClusterCIDR (10.244.0.0/16), /24 and 172.18.0.0/16. The plan
	// must hold Nodes; nodes keep the podCIDR they have when the plan changes.
	ClusterCIDR      string
	NodeCIDRMaskSize int
	NodeNetwork      string
	// NodeCPU, NodeMemory and NodePods are each node's capacity ("4", "16Gi", 110).
	NodeCPU    string
	NodeMemory string
	NodePods   int
	// ScheduleDelay: a new pod waits this long before it is scheduled.
	ScheduleDelay time.Duration
	// StartDelay: a bound pod's containers start after this (ContainerCreating).
	StartDelay time.Duration
	// ReadyDelay: a running container without readiness probe is ready after this.
	ReadyDelay time.Duration
	// TerminationDelay: a gracefully deleted pod's containers stop after
	// min(TerminationDelay, grace period).
	TerminationDelay time.Duration
	// CrashLoopBackOff is the first restart back-off of a crashed container
	// (Kubernetes: 10s), doubling up to 30x; at least sim.MinBackOff.
	CrashLoopBackOff time.Duration
	// TimeScale multiplies container program durations (`sleep N` in a
	// `sh -c` script, sim.podwarden.io/duration): 0.01 runs them 100 times
	// faster. 0 means 1.
	TimeScale float64
	// Runtime is "sim" (default) or "exec": container commands really run as
	// local processes (opt-in; see RuntimeExec).
	Runtime string
	// MissingImages are the sim registry's patterns of images that do not
	// exist (sim.Registry); nil means sim.DefaultMissingImages, empty none.
	MissingImages []string
	// StreamingAddr is where the streaming server (exec, attach, port-forward,
	// proxy) listens; "" means DefaultStreamingAddr.
	StreamingAddr string
	// Clock (default the wall clock).
	Clock clock.Clock
	// DNSAddr is where the cluster DNS answers, UDP and TCP ("host:port"; port
	// 0 picks a free one). "" or "off" disables it; the command defaults it to
	// DefaultDNSAddr (see DNSFromEnv).
	DNSAddr string
	// DNSPacketConn and DNSListener, when both set, are served instead of DNSAddr.
	DNSPacketConn net.PacketConn
	DNSListener   net.Listener
	// Sandbox says whether pods get sandboxes from Linux namespaces (a network
	// namespace with the pod IP, the pod's hostname and /etc files): SandboxAuto
	// (when the machine allows it; the command's default), SandboxOn or
	// SandboxOff ("" means off: a service run in-process, by tests, makes none).
	Sandbox string
	// SandboxDir is the machine's folder of pod networks (sandbox.DefaultDir).
	SandboxDir string
	// SandboxRoutes says whether the cluster and service CIDRs are routed from
	// the service's network namespace into its pod network: SandboxAuto (only
	// when that is not the machine's own network namespace), SandboxOn, SandboxOff.
	SandboxRoutes string
}

// DefaultDNSAddr is the command's cluster DNS address.
const DefaultDNSAddr = "127.0.0.1:10053"

// DNSFromEnv sets DNSAddr from PODWARDEN_DNS_ADDR: DefaultDNSAddr when unset,
// disabled when set to "" or "off".
func (c *Config) DNSFromEnv() {
	v, ok := os.LookupEnv("PODWARDEN_DNS_ADDR")
	if !ok {
		v = DefaultDNSAddr
	}
	c.DNSAddr = v
}

func (c *Config) dnsEnabled() bool {
	return c.DNSPacketConn != nil && c.DNSListener != nil || c.DNSAddr != "" && c.DNSAddr != "off"
}

// The delays of an interactive fleet (the command's and the launcher's
// defaults): slow enough to watch ContainerCreating, Running and Terminating go by.
const (
	HumanScheduleDelay    = 0
	HumanStartDelay       = 500 * time.Millisecond
	HumanReadyDelay       = 500 * time.Millisecond
	HumanTerminationDelay = time.Second
	HumanCrashLoopBackOff = 10 * time.Second
)

// SimFromEnv sets the fleet and the simulated delays from PODWARDEN_SIM_NODES,
// PODWARDEN_CLUSTER_CIDR, PODWARDEN_NODE_CIDR_MASK_SIZE, PODWARDEN_NODE_NETWORK,
// _NODE_CPU, _NODE_MEMORY, _NODE_PODS, _SCHEDULE_DELAY, _START_DELAY,
// _READY_DELAY, _TERMINATION_DELAY and _CRASH_BACKOFF (Go durations), with the
// defaults of an interactive fleet (Human*) for what is unset. It overwrites
// the fields it covers; call it before applying flags.
func (c *Config) SimFromEnv() {
	c.Nodes = envInt("PODWARDEN_SIM_NODES", DefaultNodes)
	c.PlanFromEnv()
	c.NodeCPU = envStr("PODWARDEN_SIM_NODE_CPU", DefaultNodeCPU)
	c.NodeMemory = envStr("PODWARDEN_SIM_NODE_MEMORY", DefaultNodeMemory)
	c.NodePods = envInt("PODWARDEN_SIM_NODE_PODS", DefaultNodePods)
	c.ScheduleDelay = envDuration("PODWARDEN_SIM_SCHEDULE_DELAY", HumanScheduleDelay)
	c.StartDelay = envDuration("PODWARDEN_SIM_START_DELAY", HumanStartDelay)
	c.ReadyDelay = envDuration("PODWARDEN_SIM_READY_DELAY", HumanReadyDelay)
	c.TerminationDelay = envDuration("PODWARDEN_SIM_TERMINATION_DELAY", HumanTerminationDelay)
	c.CrashLoopBackOff = envDuration("PODWARDEN_SIM_CRASH_BACKOFF", HumanCrashLoopBackOff)
	c.TimeScale = envTimeScale()
	c.Runtime = envStr("PODWARDEN_RUNTIME", RuntimeSim)
	c.MissingImages = envMissingImages()
}

// envMissingImages reads PODWARDEN_SIM_MISSING_IMAGES: comma-separated
// patterns of images that fail to pull; unset means the defaults, "" or
// "none" none.
func envMissingImages() []string {
	v, ok := os.LookupEnv("PODWARDEN_SIM_MISSING_IMAGES")
	if !ok {
		return sim.DefaultMissingImages
	}
	if v == "" || v == "none" {
		return []string{}
	}
	return strings.Split(v, ",")
}

func (c *Config) registry() sim.Registry {
	if c.MissingImages == nil {
		return sim.Registry{Missing: sim.DefaultMissingImages}
	}
	return sim.Registry{Missing: c.MissingImages}
}

// PlanFromEnv sets the address plan from PODWARDEN_CLUSTER_CIDR,
// PODWARDEN_NODE_CIDR_MASK_SIZE and PODWARDEN_NODE_NETWORK, with the defaults
// for what is unset.
func (c *Config) PlanFromEnv() {
	c.ClusterCIDR = envStr(ipam.EnvClusterCIDR, ipam.DefaultClusterCIDR)
	c.NodeCIDRMaskSize = envInt(ipam.EnvNodeMaskSize, ipam.DefaultNodeCIDRMaskSize)
	c.NodeNetwork = envStr(ipam.EnvNodeNetwork, ipam.DefaultNodeNetwork)
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func (c *Config) defaults() {
	if c.Nodes == 0 {
		c.Nodes = DefaultNodes
	}
	if c.NodeCPU == "" {
		c.NodeCPU = DefaultNodeCPU
	}
	if c.NodeMemory == "" {
		c.NodeMemory = DefaultNodeMemory
	}
	if c.NodePods <= 0 {
		c.NodePods = DefaultNodePods
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
}

// Validate reports bad settings (after defaults), among them an address plan
// that cannot hold the fleet.
func (c *Config) Validate() error {
	errs := []error{validRuntime(c.Runtime), validSandbox("sandbox", c.Sandbox), validSandbox("sandbox routes", c.SandboxRoutes)}
	if plan, err := c.plan(); err != nil {
		errs = append(errs, err)
	} else if err := plan.Holds(c.Nodes); err != nil {
		errs = append(errs, fmt.Errorf("PODWARDEN_SIM_NODES=%d: %w", c.Nodes, err))
	}
	if _, err := resource.ParseQuantity(c.NodeCPU); err != nil {
		errs = append(errs, fmt.Errorf("node cpu %q: %w", c.NodeCPU, err))
	}
	if _, err := resource.ParseQuantity(c.NodeMemory); err != nil {
		errs = append(errs, fmt.Errorf("node memory %q: %w", c.NodeMemory, err))
	}
	for name, d := range map[string]time.Duration{"schedule": c.ScheduleDelay, "start": c.StartDelay, "ready": c.ReadyDelay,
		"termination": c.TerminationDelay, "crash-loop back-off": c.CrashLoopBackOff} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s delay %v is negative", name, d))
		}
	}
	return errors.Join(errs...)
}

// plan is the fleet's address plan.
func (c *Config) plan() (ipam.Plan, error) {
	return ipam.NewPlan(c.ClusterCIDR, c.NodeCIDRMaskSize, c.NodeNetwork)
}

func (c *Config) capacity() fleet.Capacity {
	return fleet.Capacity{CPU: c.NodeCPU, Memory: c.NodeMemory, Pods: c.NodePods}
}

// Run serves NodeService, PodService, ServiceService, EndpointsService and
// EventService, and the cluster DNS (every replica answers), until ctx ends;
// the leader replica also consumes pod commands, schedules and runs the pods,
// and maintains the Services' Endpoints.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	plan, err := cfg.plan()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, "node", cfg.App, migrations.FS)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Now = cfg.Clock.Now
	if err := bootstrap(ctx, a.DB, cfg, plan); err != nil {
		return err
	}
	if err := server.BootstrapServices(ctx, a.DB, cfg.Clock.Now(), controlPlaneIP(ctx, a.DB)); err != nil {
		return err
	}
	deps := server.Deps{DB: a.DB, Hub: a.Watch, Clock: cfg.Clock}
	nodeRes, podRes := server.NodeResource(a.DB, a.Watch, cfg.Clock.Now), server.PodResource(a.DB, a.Watch, cfg.Clock.Now)
	nodev1.RegisterNodeServiceServer(a.GRPC.GRPC, &server.NodeServer{Deps: deps, R: nodeRes, Capacity: cfg.capacity(), Plan: plan})
	nodev1.RegisterPodServiceServer(a.GRPC.GRPC, &server.PodServer{Deps: deps, R: podRes})
	nodev1.RegisterServiceServiceServer(a.GRPC.GRPC, &server.ServiceServer{Deps: deps, R: server.ServiceResource(a.DB, a.Watch, cfg.Clock.Now)})
	nodev1.RegisterEndpointsServiceServer(a.GRPC.GRPC, &server.EndpointsServer{R: server.EndpointsResource(a.DB, a.Watch, cfg.Clock.Now)})
	quotaRes := server.ResourceQuotaResource(a.DB, a.Watch, cfg.Clock.Now)
	corev1.RegisterResourceQuotaServiceServer(a.GRPC.GRPC, &server.ResourceQuotaServer{R: quotaRes})
	corev1.RegisterLimitRangeServiceServer(a.GRPC.GRPC, &server.LimitRangeServer{R: server.LimitRangeResource(a.DB, a.Watch, cfg.Clock.Now)})
	corev1.RegisterEventServiceServer(a.GRPC.GRPC, &events.Server{Hub: a.Watch})
	podnet, err := openSandboxes(a, cfg, plan)
	if err != nil {
		return err
	}
	if podnet != nil {
		defer podnet.Close()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go collectSandboxes(ctx, podnet, podRes.Cache())
		go proxyServices(ctx, a, podnet, server.ServiceResource(a.DB, a.Watch, cfg.Clock.Now).Cache(),
			server.EndpointsResource(a.DB, a.Watch, cfg.Clock.Now).Cache())
		if err := serveSimPods(ctx, a, podnet, podRes.Cache()); err != nil {
			return err
		}
	}
	registerMetrics(ctx, a, cfg, podnet)
	rt := newRuntime(cfg, podnet)
	defer rt.close()
	registerPodLogs(a.GRPC.GRPC, deps, cfg, rt)
	stopDNS, dnsAddr, err := startDNS(ctx, a, cfg, podnet)
	if err != nil {
		return err
	}
	defer stopDNS()
	if dnsAddr != "" {
		// Announced with the gRPC address: with port 0, whoever started the
		// process learns the port the kernel picked (no port picked free, then bound).
		a.Listening = append(a.Listening, "dns", dnsAddr)
	}
	stopStreams, err := startStreams(a, cfg, rt, dnsAddr, podnet)
	if err != nil {
		return err
	}
	defer stopStreams()
	caches := controller.Caches{Hub: a.Watch, Pods: podRes.Cache(), Nodes: nodeRes.Cache(), Quotas: quotaRes.Cache()}
	ctl := controller.New(a.DB, a.Bus, caches, a.Log, cfg.Clock, controller.Config{
		Delays: sim.Delays{
			Start: cfg.StartDelay, Ready: cfg.ReadyDelay, Termination: cfg.TerminationDelay, BackOff: cfg.CrashLoopBackOff,
			TimeScale: cfg.TimeScale, Runtime: rt.sim, Registry: cfg.registry(),
		},
		ScheduleDelay: cfg.ScheduleDelay,
		Workers:       a.Config.Workers,
		Resync:        a.Config.Resync,
	})
	return a.Run(ctx, ctl.OnObject, ctl.Run)
}

// startDNS starts the cluster DNS (when enabled): its sockets are bound before
// Run returns, the index follows the store on this replica whether or not it
// leads. stop waits for both to end after ctx. addr is the UDP address it
// answers on ("" when disabled).
func startDNS(ctx context.Context, a *app.App, cfg Config, podnet *sandbox.Network) (stop func(), addr string, err error) {
	if !cfg.dnsEnabled() {
		return func() {}, "", nil
	}
	feeder := &clusterdns.Feeder{
		Services:  server.ServiceResource(a.DB, a.Watch, cfg.Clock.Now).Cache(),
		Endpoints: server.EndpointsResource(a.DB, a.Watch, cfg.Clock.Now).Cache(),
		Log:       a.Log,
	}
	srv := &clusterdns.Server{Addr: cfg.DNSAddr, PacketConn: cfg.DNSPacketConn, Listener: cfg.DNSListener, Index: feeder.Index, Log: a.Log}
	if err := srv.Listen(); err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); feeder.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx); err != nil {
			a.Log.Error("cluster dns stopped", "err", err)
		}
	}()
	if podnet != nil {
		err := serveSandboxDNS(ctx, a, podnet, func(ctx context.Context, pc net.PacketConn, ln net.Listener) error {
			return (&clusterdns.Server{PacketConn: pc, Listener: ln, Index: feeder.Index, Log: a.Log}).Serve(ctx)
		})
		if err != nil {
			cancel()
			wg.Wait()
			return nil, "", err
		}
	}
	return func() { cancel(); wg.Wait() }, srv.LocalAddr(), nil
}

// controlPlaneIP is the InternalIP of the control-plane node ("" without one):
// the address of the kubernetes Service's endpoint.
func controlPlaneIP(ctx context.Context, db *store.DB) string {
	n, err := repo.Nodes.Get(ctx, db.Pool, "", fleet.ControlPlane)
	if err != nil {
		return ""
	}
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == "InternalIP" {
			return a.GetAddress()
		}
	}
	return ""
}

// bootstrap creates the fleet when no node exists (one replica does it; the
// others wait on the lock and find the nodes), addressed by plan. An existing
// fleet is left as it is: nodes keep their podCIDRs and InternalIPs.
func bootstrap(ctx context.Context, db *store.DB, cfg Config, plan ipam.Plan) error {
	if cfg.Nodes < 0 {
		return nil
	}
	return db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('podwarden-node-cidr'))"); err != nil {
			return err
		}
		nodes, err := repo.Nodes.List(ctx, tx, store.ListOptions{})
		if err != nil || len(nodes) > 0 {
			return err
		}
		now := cfg.Clock.Now()
		for _, n := range fleet.Bootstrap(cfg.Nodes, plan, cfg.capacity(), now) {
			if _, err := repo.CreateNode(ctx, tx, now, n, nil); err != nil {
				return fmt.Errorf("bootstrap node %s: %w", n.GetMetadata().GetName(), err)
			}
		}
		return nil
	})
}
