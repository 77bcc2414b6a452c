// Package harness runs a whole podwarden system for end-to-end tests and benchmarks:
// a Postgres database and an embedded NATS server of its own, and every service and
// the gateway as real processes built from this workspace, so a test can kill -9 one
// and start it again.
package harness

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podwarden/podwarden/shared/announce"
	"github.com/podwarden/podwarden/shared/devenv"
	"github.com/podwarden/podwarden/shared/grpcserver"
)

// LeaseTTL is the services' leader lease TTL in a harness system: a replica killed
// while it leads is replaced within it (plus a standby's retry, TTL/4).
const LeaseTTL = 2 * time.Second

// Services are the processes of a system, in start order; the gateway comes last.
var Services = []string{"node", "deployment", "statefulset", "daemonset", "job", "autoscaler", "core"}

// packages maps a process name to its main package.
var packages = map[string]string{
	"node":        "./services/node",
	"deployment":  "./services/deployment",
	"statefulset": "./services/statefulset",
	"daemonset":   "./services/daemonset",
	"job":         "./services/job",
	"autoscaler":  "./services/autoscaler",
	"core":        "./services/core",
	"gateway":     "./gateway/cmd/gateway",
}

// RepoRoot finds the workspace root (the folder with go.work) above the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.work not found above the working directory")
		}
		dir = parent
	}
}

// Built is what Build(dir) returned: the binaries in dir.
func Built(dir string) map[string]string {
	bins := map[string]string{}
	for name := range packages {
		bins[name] = filepath.Join(dir, "podwarden-"+name)
	}
	return bins
}

// Build compiles every process into dir and returns name -> binary path.
func Build(dir string) (map[string]string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bins := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for name, pkg := range packages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bin := filepath.Join(dir, "podwarden-"+name)
			cmd := exec.Command("go", "build", "-o", bin, pkg)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("go build %s: %w\n%s", pkg, err, out))
				return
			}
			bins[name] = bin
		}()
	}
	wg.Wait()
	return bins, errors.Join(errs...)
}

// Options shape a system.
type Options struct {
	// Nodes in the simulated fleet (default 3).
	Nodes int
	// Env is added to every service's environment (e.g. sim delays).
	Env []string
	// GatewayEnv is added to the gateway's environment.
	GatewayEnv []string
	// GRPC are the credentials the harness's own gRPC clients (health
	// waits, Conn) use: set them when Env gives the services TLS.
	GRPC grpcserver.Security
	// Replicas of the deployment service (default 1).
	Replicas int
	// AllReplicas, when larger, is the number of replicas of every service.
	AllReplicas int
	// LogDir receives one log file per process (default: a temporary folder).
	LogDir string
	// NATSBinary, when set, runs NATS as that separate process (a nats-server, see
	// BuildNATS) instead of embedded, so that RestartNATS kills it with SIGKILL.
	NATSBinary string
	// NATSCluster, with NATSBinary, runs that many NATS servers as one JetStream
	// cluster (each with its own ports and store folder; the streams get as many
	// replicas, at most 3), every service given all their URLs.
	NATSCluster int
	// Links gives every service replica its own TCP proxy (Link) to Postgres and to
	// each NATS server, so that CutLinks can cut that replica's connections alone.
	Links bool
}

// Proc is one running service process.
type Proc struct {
	Name string
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
	// listenFile is where it announces the addresses it listens on.
	listenFile string
}

// exited reports whether the process has ended.
func (p *Proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Exited reports whether the process has ended (killed, or exited by itself).
func (p *Proc) Exited() bool { return p.exited() }

// Replica is the replica index the process was started as (StartService's replica).
func (p *Proc) Replica() int {
	i := strings.LastIndexByte(p.Name, '-')
	n, err := strconv.Atoi(p.Name[i+1:])
	if i < 0 || err != nil {
		return 0
	}
	return n
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// System is a running podwarden.
type System struct {
	opts Options
	bins map[string]string
	DSN  string
	// NATS is the embedded server (nil when Options.NATSBinary runs it as a process).
	NATS    *devenv.NATS
	natsURL string
	// natsNodes are the NATS server processes (Options.NATSBinary).
	natsNodes []*natsNode
	// pgAddr is the Postgres server's host:port (what links forward to).
	pgAddr string
	// links by process name ("deployment-1"), then upstream ("postgres", "nats").
	links map[string]map[string][]*Link
	Addrs map[string]string
	// MetricsAddrs are where the first replica of each service serves /metrics.
	MetricsAddrs map[string]string
	GatewayURL   string
	// DNSAddr is where the node service's cluster DNS answers (UDP and TCP).
	DNSAddr string
	logDir  string
	natsDir string
	mu      sync.Mutex
	procs   map[string][]*Proc
	conns   map[string]*grpc.ClientConn
	dropDB  func()
}

var dbSeq = struct {
	sync.Mutex
	n int
}{}

// Start creates a database on the Postgres at adminDSN, an embedded NATS server in
// natsDir, and starts every service and the gateway.
func Start(ctx context.Context, bins map[string]string, adminDSN, natsDir string, opts Options) (*System, error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	logDir := opts.LogDir
	if logDir == "" {
		logDir = filepath.Join(natsDir, "logs")
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	dsn, drop, err := createDatabase(ctx, adminDSN)
	if err != nil {
		return nil, err
	}
	s := &System{opts: opts, bins: bins, DSN: dsn, Addrs: map[string]string{}, MetricsAddrs: map[string]string{}, logDir: logDir, natsDir: natsDir,
		procs: map[string][]*Proc{}, conns: map[string]*grpc.ClientConn{}, dropDB: drop, links: map[string]map[string][]*Link{}}
	if u, err := url.Parse(dsn); err == nil {
		s.pgAddr = u.Host
	}
	if opts.NATSBinary == "" {
		if s.NATS, err = devenv.StartNATS(devenv.NATSConfig{StoreDir: natsDir}); err != nil {
			drop()
			return nil, err
		}
		s.natsURL = s.NATS.URL
	} else if err := s.startNATSCluster(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	for _, name := range Services {
		for i := range s.replicas(name) {
			if _, err := s.StartService(name, i); err != nil {
				s.Stop()
				return nil, err
			}
		}
	}
	if err := s.startGateway("127.0.0.1:0"); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.WaitReady(ctx, 60*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.waitDefaultServiceAccount(ctx, 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitDefaultServiceAccount waits until namespace default has its ServiceAccount
// "default", which a pod created through the gateway needs (as on a new cluster,
// where the controller makes it a moment after the start). A gateway that asks for
// credentials (401, 403) is not asked further: its tests bring their own.
func (s *System) waitDefaultServiceAccount(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.GatewayURL+"/api/v1/namespaces/default/serviceaccounts/default", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK, http.StatusUnauthorized, http.StatusForbidden:
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no default ServiceAccount in namespace default after %v (logs in %s)", timeout, s.logDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createDatabase(ctx context.Context, adminDSN string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", nil, fmt.Errorf("connect postgres: %w", err)
	}
	defer conn.Close(ctx)
	dbSeq.Lock()
	dbSeq.n++
	name := fmt.Sprintf("pw_e2e_%d_%d", os.Getpid(), dbSeq.n)
	dbSeq.Unlock()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	cfg, err := pgx.ParseConfig(adminDSN)
	if err != nil {
		return "", nil, err
	}
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	drop := func() {
		c, err := pgx.Connect(context.Background(), adminDSN)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return dsn, drop, nil
}

// replicas is how many replicas of a service the system runs.
func (s *System) replicas(name string) int {
	n := 1
	if name == "deployment" {
		n = s.opts.Replicas
	}
	return max(n, s.opts.AllReplicas)
}

func (s *System) env(name string, replica int, dsn, natsURL string) []string {
	env := append(os.Environ(),
		"PODWARDEN_POSTGRES_DSN="+dsn,
		"PODWARDEN_NATS_URL="+natsURL,
		"PODWARDEN_GRPC_ADDR="+s.Addrs[name],
		fmt.Sprintf("PODWARDEN_REPLICA_ID=%s-%d", name, replica),
		fmt.Sprintf("PODWARDEN_SIM_NODES=%d", s.opts.Nodes),
		"PODWARDEN_LOG_LEVEL=info",
		"PODWARDEN_LEASE_TTL="+LeaseTTL.String(),
		"PODWARDEN_SIM_SCHEDULE_DELAY=0s", "PODWARDEN_SIM_START_DELAY=0s",
		"PODWARDEN_SIM_READY_DELAY=0s", "PODWARDEN_SIM_TERMINATION_DELAY=0s",
		// Pod sandboxes change the network namespace the node service runs in:
		// only tests that run in a private one turn them on (Options.Env).
		"PODWARDEN_SANDBOX=off",
	)
	if n := len(s.natsNodes); n > 1 {
		env = append(env, fmt.Sprintf("PODWARDEN_STREAM_REPLICAS=%d", min(n, 3)))
	}
	if s.opts.Nodes > 256 { // the default address plan (10.244.0.0/16 in /24s) holds 256 nodes
		env = append(env, "PODWARDEN_CLUSTER_CIDR=10.0.0.0/8")
	}
	return append(env, s.opts.Env...)
}

// StartService starts (or restarts) replica i of a service. Its ports are the kernel's
// pick (":0", read back from what the service announces: shared/announce), so no port is picked here and taken
// by another process before the service binds it (test packages run in parallel); the
// first replica restarts on the address it had, which its clients know.
func (s *System) StartService(name string, replica int) (*Proc, error) {
	addr := "127.0.0.1:0"
	if replica == 0 && s.Addrs[name] != "" {
		addr = s.Addrs[name]
	}
	dsn, natsURL := s.DSN, s.natsURL
	if s.opts.Links {
		var err error
		if dsn, natsURL, err = s.linked(fmt.Sprintf("%s-%d", name, replica)); err != nil {
			return nil, err
		}
	}
	env := s.env(name, replica, dsn, natsURL)
	env = append(env, "PODWARDEN_GRPC_ADDR="+addr, "PODWARDEN_METRICS_ADDR=127.0.0.1:0")
	if name == "node" {
		// The first replica answers DNS on a port the kernel picks (announced, read
		// back below), then on the one it had; never the default one.
		dns := "off"
		if replica == 0 {
			dns = cmp.Or(s.DNSAddr, "127.0.0.1:0")
		}
		env = append(env, "PODWARDEN_DNS_ADDR="+dns)
	}
	if name == "daemonset" {
		env = append(env, "PODWARDEN_NODE_ADDR="+s.Addrs["node"])
	}
	if name == "autoscaler" || name == "core" {
		env = append(env, "PODWARDEN_DEPLOYMENT_ADDR="+s.Addrs["deployment"], "PODWARDEN_STATEFULSET_ADDR="+s.Addrs["statefulset"], "PODWARDEN_NODE_ADDR="+s.Addrs["node"])
	}
	if name == "core" {
		// The namespace controller deletes a namespace's content in every service
		// (core starts last: their addresses are known).
		env = append(env, "PODWARDEN_DAEMONSET_ADDR="+s.Addrs["daemonset"], "PODWARDEN_JOB_ADDR="+s.Addrs["job"],
			"PODWARDEN_AUTOSCALER_ADDR="+s.Addrs["autoscaler"])
	}
	if dbg := os.Getenv("PODWARDEN_DEBUG_BASE_PORT"); dbg != "" && replica == 0 {
		// Profiling the benchmark: node on the base port, deployment on base+1.
		base, _ := strconv.Atoi(dbg)
		env = append(env, fmt.Sprintf("PODWARDEN_DEBUG_ADDR=127.0.0.1:%d", base+indexOf(Services, name)))
	}
	p, err := s.spawn(fmt.Sprintf("%s-%d", name, replica), s.bins[name], env)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.procs[name] = append(s.procs[name], p)
	s.mu.Unlock()
	m, err := p.announced(servingLine, 30*time.Second)
	if err != nil {
		return p, err
	}
	p.Addr = m[1]
	var dns []string
	if name == "node" && replica == 0 {
		if dns, err = p.announced(dnsLine, time.Second); err != nil {
			return p, err
		}
	}
	s.mu.Lock()
	if replica == 0 {
		s.Addrs[name] = p.Addr
		if len(m) > 2 && m[2] != "" {
			s.MetricsAddrs[name] = m[2]
		}
		if dns != nil {
			s.DNSAddr = dns[1]
		}
	}
	s.mu.Unlock()
	return p, waitGRPC(p.Addr, s.opts.GRPC, 30*time.Second)
}

// servingLine is what a service announces once it listens (app.Run).
var servingLine = regexp.MustCompile(`grpc=(\S+)(?: .*?metrics=http://(\S+)/metrics)?`)

// dnsLine is the node service's cluster DNS address in what it announces.
var dnsLine = regexp.MustCompile(`\bdns=(\S+)`)

// gatewayLine is what the gateway announces once it listens.
var gatewayLine = regexp.MustCompile(`addr=(\S+)`)

// announced waits until the process has announced where it listens (shared/announce)
// and returns the match of re on it (the ports it bound).
func (p *Proc) announced(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(p.listenFile); err == nil {
			if m := re.FindStringSubmatch(string(b)); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("%s announced %q", p.Name, b)
		}
		if p.exited() {
			return nil, fmt.Errorf("%s exited before it listened", p.Name)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not announce that it listens within %v", p.Name, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startGateway starts the gateway on addr ("127.0.0.1:0": the kernel's pick, read
// back from what it announces) and sets GatewayURL to where it listens.
func (s *System) startGateway(addr string) error {
	env := append(os.Environ(),
		"PODWARDEN_HTTP_ADDR="+addr,
		"PODWARDEN_DEPLOYMENT_ADDR="+s.Addrs["deployment"],
		"PODWARDEN_NODE_ADDR="+s.Addrs["node"],
		"PODWARDEN_JOB_ADDR="+s.Addrs["job"],
		"PODWARDEN_DAEMONSET_ADDR="+s.Addrs["daemonset"],
		"PODWARDEN_STATEFULSET_ADDR="+s.Addrs["statefulset"],
		"PODWARDEN_AUTOSCALER_ADDR="+s.Addrs["autoscaler"],
		"PODWARDEN_CORE_ADDR="+s.Addrs["core"],
		"PODWARDEN_LOG_LEVEL=warn",
	)
	env = append(env, s.opts.GatewayEnv...)
	p, err := s.spawn("gateway", s.bins["gateway"], env)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.procs["gateway"] = append(s.procs["gateway"], p)
	s.mu.Unlock()
	m, err := p.announced(gatewayLine, 30*time.Second)
	if err != nil {
		return err
	}
	s.GatewayURL = "http://" + m[1]
	return nil
}

func (s *System) spawn(logName, bin string, env []string, args ...string) (*Proc, error) {
	f, err := os.OpenFile(filepath.Join(s.logDir, logName+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	listenFile := filepath.Join(s.logDir, logName+".listen")
	if err := os.Remove(listenFile); err != nil && !os.IsNotExist(err) {
		f.Close()
		return nil, err
	}
	env = append(env, announce.FileEnv+"="+listenFile)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Pdeathsig follows the thread that started the child: keep it alive.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", logName, err)
	}
	p := &Proc{Name: logName, cmd: cmd, done: make(chan struct{}), listenFile: listenFile}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

func waitGRPC(addr string, sec grpcserver.Security, timeout time.Duration) error {
	opts, err := sec.DialOptions()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy after %v: %v", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MetricsURL is the /metrics URL of a service's first replica, or of the gateway.
func (s *System) MetricsURL(name string) string {
	if name == "gateway" {
		return s.GatewayURL + "/metrics"
	}
	return "http://" + s.MetricsAddrs[name] + "/metrics"
}

// WaitReady waits until the gateway's /readyz answers 200.
func (s *System) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.GatewayURL+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if gw := s.Procs("gateway"); len(gw) == 1 && gw[0].exited() {
			return fmt.Errorf("the gateway exited (logs in %s)", s.logDir)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway not ready after %v (logs in %s)", timeout, s.logDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// Kill sends SIGKILL to every running replica of a service and waits for them to die.
func (s *System) Kill(name string) {
	s.mu.Lock()
	procs := s.procs[name]
	s.procs[name] = nil
	s.mu.Unlock()
	for _, p := range procs {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Terminate stops a service's processes with SIGTERM (a graceful stop: what
// they hold is released) and waits until they have exited, SIGKILL after timeout.
func (s *System) Terminate(name string, timeout time.Duration) {
	s.mu.Lock()
	procs := s.procs[name]
	s.procs[name] = nil
	s.mu.Unlock()
	for _, p := range procs {
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(timeout):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// RestartGateway kills the gateway and starts it again on the same address.
func (s *System) RestartGateway() error {
	s.Kill("gateway")
	u, err := url.Parse(s.GatewayURL)
	if err != nil {
		return err
	}
	if err := s.startGateway(u.Host); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.WaitReady(ctx, 30*time.Second)
}

// KillProc sends SIGKILL to one process.
func (s *System) KillProc(p *Proc) {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, ps := range s.procs {
		out := ps[:0]
		for _, q := range ps {
			if q != p {
				out = append(out, q)
			}
		}
		s.procs[name] = out
	}
}

// RestartNATS shuts the embedded NATS server down (every client loses its connection)
// and starts it again on the same port and JetStream store, after pause: what the
// services see when the NATS server crashes and comes back.
//
// With Options.NATSBinary every NATS server process is killed with SIGKILL instead,
// and started again on its ports and store.
func (s *System) RestartNATS(pause time.Duration) error {
	if len(s.natsNodes) > 0 {
		for i := range s.natsNodes {
			s.KillNATSNode(i)
		}
		time.Sleep(pause)
		for i := range s.natsNodes {
			if err := s.StartNATSNode(i); err != nil {
				return err
			}
		}
		return nil
	}
	u, err := url.Parse(s.NATS.URL)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return err
	}
	storeDir := s.natsDir
	s.NATS.Stop()
	time.Sleep(pause)
	var n *devenv.NATS
	for attempt := 0; ; attempt++ {
		// The port can linger a moment after the shutdown.
		if n, err = devenv.StartNATS(devenv.NATSConfig{StoreDir: storeDir, Port: port}); err == nil || attempt == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("restart nats: %w", err)
	}
	s.mu.Lock()
	s.NATS = n
	s.mu.Unlock()
	return nil
}

// BuildNATS compiles the NATS server (the workspace's nats-server version) into dir,
// for Options.NATSBinary.
func BuildNATS(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "nats-server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	cmd.Dir = filepath.Join(root, "integration")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build nats-server: %w\n%s", err, out)
	}
	return bin, nil
}

// natsNode is one NATS server process: its client port is the kernel's pick at its
// first start (read back from its ports file), kept for its restarts (its clients
// know it). A cluster's route ports must be known to every server when it starts (a
// JetStream cluster refuses to start without its routes): they are picked free
// before the first start, and picked again if one was taken meanwhile.
type natsNode struct {
	i                        int
	proc                     *Proc
	clientAddr, clusterAddr  string
	storeDir, portsDir, name string
	restarts                 int
}

// NATSNodes is how many NATS server processes the system runs (0: embedded).
func (s *System) NATSNodes() int { return len(s.natsNodes) }

// startNATSCluster starts Options.NATSCluster NATS servers (at least one), the first
// alone, each next one with a route to those before it, and waits until JetStream
// answers on every one of them.
func (s *System) startNATSCluster(ctx context.Context) error {
	n := max(s.opts.NATSCluster, 1)
	var urls []string
	for i := range n {
		node := &natsNode{i: i, name: fmt.Sprintf("nats-%d", i), storeDir: s.natsDir, portsDir: filepath.Join(s.natsDir, "ports")}
		if n > 1 {
			node.storeDir = filepath.Join(s.natsDir, node.name)
			node.portsDir = filepath.Join(s.natsDir, node.name+"-ports")
		}
		if n == 1 {
			node.name = "nats" // the log keeps its name of a single server
		} else {
			port, err := devenv.FreePort()
			if err != nil {
				return err
			}
			node.clusterAddr = fmt.Sprintf("127.0.0.1:%d", port)
		}
		s.natsNodes = append(s.natsNodes, node)
	}
	for i, node := range s.natsNodes {
		if err := s.StartNATSNode(i); err != nil {
			return err
		}
		urls = append(urls, "nats://"+node.clientAddr)
	}
	s.natsURL = strings.Join(urls, ",")
	return s.waitJetStream(ctx, 60*time.Second)
}

// KillNATSNode kills NATS server i with SIGKILL.
func (s *System) KillNATSNode(i int) {
	s.mu.Lock()
	p := s.natsNodes[i].proc
	s.natsNodes[i].proc = nil
	s.mu.Unlock()
	if p != nil {
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		<-p.done
	}
}

// StartNATSNode starts NATS server i (again), on its ports once it had some; the
// ports linger a moment after a kill, so it tries again for a while. A server
// restarted into a cluster is waited for until it answers JetStream requests (a
// NATS StatefulSet's readiness): a service started meanwhile fails to declare its
// streams and exits.
func (s *System) StartNATSNode(i int) error {
	if err := s.startNATSNodeRetrying(i); err != nil {
		return err
	}
	node := s.natsNodes[i]
	if len(s.natsNodes) == 1 || node.restarts == 0 {
		node.restarts++
		return nil // the first start: startNATSCluster waits for them all
	}
	node.restarts++
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := jetStreamReady(context.Background(), "nats://"+node.clientAddr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s restarted, JetStream not ready after 30s: %w", node.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *System) startNATSNodeRetrying(i int) error {
	var err error
	node := s.natsNodes[i]
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.startNATSNode(node); err == nil {
			return nil
		}
		if node.clientAddr == "" { // its first start: nothing lingers, but its route port may have been taken
			if node.clusterAddr == "" || attempt >= 4 {
				break
			}
			port, perr := devenv.FreePort()
			if perr != nil {
				return perr
			}
			node.clusterAddr = fmt.Sprintf("127.0.0.1:%d", port)
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("start %s: %w", s.natsNodes[i].name, err)
}

func (s *System) startNATSNode(node *natsNode) error {
	if err := os.MkdirAll(node.portsDir, 0o755); err != nil {
		return err
	}
	client := "-1"
	if node.clientAddr != "" {
		_, client, _ = net.SplitHostPort(node.clientAddr)
	}
	args := []string{"-js", "-sd", node.storeDir, "-a", "127.0.0.1", "-p", client, "--ports_file_dir", node.portsDir}
	if node.clusterAddr != "" {
		var routes []string
		for _, o := range s.natsNodes {
			if o != node && o.clusterAddr != "" {
				routes = append(routes, "nats://"+o.clusterAddr)
			}
		}
		args = append(args, "-n", node.name, "--cluster_name", "podwarden", "--cluster", "nats://"+node.clusterAddr)
		if len(routes) > 0 {
			args = append(args, "--routes", strings.Join(routes, ","))
		}
	} else {
		args = append(args, "-n", "podwarden")
	}
	p, err := s.spawn(node.name, s.opts.NATSBinary, os.Environ(), args...)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%w (log %s)", err, filepath.Join(s.logDir, node.name+".log"))
	}
	// The server writes its ports file once it listens (nats-server_<pid>.ports).
	portsFile := filepath.Join(node.portsDir, fmt.Sprintf("%s_%d.ports", filepath.Base(s.opts.NATSBinary), p.PID()))
	deadline := time.Now().Add(10 * time.Second)
	var ports struct{ Nats, Cluster []string }
	for {
		b, err := os.ReadFile(portsFile)
		if err == nil && json.Unmarshal(b, &ports) == nil && len(ports.Nats) > 0 {
			break
		}
		if p.exited() {
			return fail(errors.New("nats-server exited before it listened"))
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("nats-server wrote no ports file within 10s"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = os.Remove(portsFile)
	host := func(u string) string {
		if pu, err := url.Parse(u); err == nil {
			return pu.Host
		}
		return ""
	}
	if node.clientAddr == "" {
		node.clientAddr = host(ports.Nats[0])
	}
	s.mu.Lock()
	node.proc = p
	s.mu.Unlock()
	return nil
}

// waitJetStream waits until every NATS server answers JetStream requests (a cluster
// has elected its meta leader).
func (s *System) waitJetStream(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, node := range s.natsNodes {
		for {
			err := jetStreamReady(ctx, "nats://"+node.clientAddr)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("JetStream not ready on %s after %v: %w", node.name, timeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func jetStreamReady(ctx context.Context, u string) error {
	nc, err := nats.Connect(u, nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// StreamReplicas is how many NATS servers hold a JetStream stream (its leader and
// its current replicas).
func (s *System) StreamReplicas(ctx context.Context, stream string) (int, error) {
	url := s.natsURL
	if s.NATS != nil {
		url = s.NATS.URL
	}
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.Cluster == nil {
		return 1, nil
	}
	return 1 + len(info.Cluster.Replicas), nil
}

// linked returns the Postgres DSN and NATS URL a service process is given with
// Options.Links: the addresses of its own links (made at its first start, kept for
// its restarts).
func (s *System) linked(proc string) (dsn, natsURL string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.links[proc]
	if ls == nil {
		ls = map[string][]*Link{}
		pg, err := NewLink(s.pgAddr)
		if err != nil {
			return "", "", err
		}
		ls["postgres"] = []*Link{pg}
		for _, u := range strings.Split(s.natsURL, ",") {
			pu, err := url.Parse(u)
			if err != nil {
				return "", "", err
			}
			l, err := NewLink(pu.Host)
			if err != nil {
				return "", "", err
			}
			ls["nats"] = append(ls["nats"], l)
		}
		s.links[proc] = ls
	}
	u, err := url.Parse(s.DSN)
	if err != nil {
		return "", "", err
	}
	u.Host = ls["postgres"][0].Addr()
	var urls []string
	for _, l := range ls["nats"] {
		urls = append(urls, "nats://"+l.Addr())
	}
	return u.String(), strings.Join(urls, ","), nil
}

// Links returns a process's links to an upstream ("postgres" or "nats"; one per NATS
// server), nil without Options.Links.
func (s *System) Links(proc, upstream string) []*Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.links[proc][upstream]
}

// Procs returns the running replicas of a service.
func (s *System) Procs(name string) []*Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Proc(nil), s.procs[name]...)
}

// Conn returns a gRPC client connection to a service.
func (s *System) Conn(name string) *grpc.ClientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[name]; ok {
		return c
	}
	opts, err := s.opts.GRPC.DialOptions()
	if err != nil {
		panic(err)
	}
	c, err := grpc.NewClient(s.Addrs[name], opts...)
	if err != nil {
		panic(err)
	}
	s.conns[name] = c
	return c
}

// Logs returns the tail of every process log, for failure messages.
func (s *System) Logs(maxPerFile int) string {
	files, _ := filepath.Glob(filepath.Join(s.logDir, "*.log"))
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > maxPerFile {
			data = data[len(data)-maxPerFile:]
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", filepath.Base(f), data)
	}
	return b.String()
}

// PIDs returns the process ids of every running process (for CPU/RSS accounting):
// the services, the gateway and, when Options.NATSBinary runs them as processes, the
// NATS servers.
func (s *System) PIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	for _, n := range s.natsNodes {
		if n.proc != nil && !n.proc.exited() {
			pids = append(pids, n.proc.PID())
		}
	}
	for _, ps := range s.procs {
		for _, p := range ps {
			pids = append(pids, p.cmd.Process.Pid)
		}
	}
	return pids
}

// Stop kills everything and drops the database.
func (s *System) Stop() {
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.procs))
	for name := range s.procs {
		names = append(names, name)
	}
	s.mu.Unlock()
	for _, name := range names {
		s.Kill(name)
	}
	if s.NATS != nil {
		s.NATS.Stop()
	}
	for i := range s.natsNodes {
		s.KillNATSNode(i)
	}
	for _, ls := range s.links {
		for _, l := range ls {
			for _, link := range l {
				link.Close()
			}
		}
	}
	s.dropDB()
}
