// Package harness runs a whole podwarden system for end-to-end tests and benchmarks:
// a Postgres database and an embedded NATS server of its own, and every service and
// the gateway as real processes built from this workspace, so a test can kill -9 one
// and start it again.
package harness

import (
	"context"
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
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podwarden/podwarden/shared/announce"
	"github.com/podwarden/podwarden/shared/devenv"
	"github.com/podwarden/podwarden/shared/grpcserver"
)

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
	// LogDir receives one log file per process (default: a temporary folder).
	LogDir string
	// NATSBinary, when set, runs NATS as that separate process (a nats-server, see
	// BuildNATS) instead of embedded, so that RestartNATS kills it with SIGKILL.
	NATSBinary string
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
	// natsProc is the NATS server process (Options.NATSBinary).
	natsProc *Proc
	Addrs    map[string]string
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
		procs: map[string][]*Proc{}, conns: map[string]*grpc.ClientConn{}, dropDB: drop}
	if opts.NATSBinary == "" {
		if s.NATS, err = devenv.StartNATS(devenv.NATSConfig{StoreDir: natsDir}); err != nil {
			drop()
			return nil, err
		}
		s.natsURL = s.NATS.URL
	} else {
		port, err := devenv.FreePort()
		if err == nil {
			s.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
			err = s.startNATSProc()
		}
		if err != nil {
			drop()
			return nil, err
		}
	}
	if s.DNSAddr, err = freeDNSAddr(); err != nil {
		s.Stop()
		return nil, err
	}
	for _, name := range Services {
		replicas := 1
		if name == "deployment" {
			replicas = opts.Replicas
		}
		for i := range replicas {
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

func (s *System) env(name string, replica int) []string {
	env := append(os.Environ(),
		"PODWARDEN_POSTGRES_DSN="+s.DSN,
		"PODWARDEN_NATS_URL="+s.natsURL,
		"PODWARDEN_GRPC_ADDR="+s.Addrs[name],
		fmt.Sprintf("PODWARDEN_REPLICA_ID=%s-%d", name, replica),
		fmt.Sprintf("PODWARDEN_SIM_NODES=%d", s.opts.Nodes),
		"PODWARDEN_LOG_LEVEL=info",
		"PODWARDEN_LEASE_TTL=2s",
		"PODWARDEN_SIM_SCHEDULE_DELAY=0s", "PODWARDEN_SIM_START_DELAY=0s",
		"PODWARDEN_SIM_READY_DELAY=0s", "PODWARDEN_SIM_TERMINATION_DELAY=0s",
	)
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
	env := s.env(name, replica)
	env = append(env, "PODWARDEN_GRPC_ADDR="+addr, "PODWARDEN_METRICS_ADDR=127.0.0.1:0")
	if name == "node" {
		// The first replica answers DNS on the system's port; never the default one.
		dns := "off"
		if replica == 0 {
			dns = s.DNSAddr
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
	s.mu.Lock()
	if replica == 0 {
		s.Addrs[name] = p.Addr
		if len(m) > 2 && m[2] != "" {
			s.MetricsAddrs[name] = m[2]
		}
	}
	s.mu.Unlock()
	return p, waitGRPC(p.Addr, s.opts.GRPC, 30*time.Second)
}

// servingLine is what a service announces once it listens (app.Run).
var servingLine = regexp.MustCompile(`grpc=(\S+)(?: .*?metrics=http://(\S+)/metrics)?`)

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

// freeDNSAddr is a loopback address whose port is free for both UDP and TCP.
func freeDNSAddr() (string, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := pc.LocalAddr().String()
		l, err := net.Listen("tcp", addr)
		_ = pc.Close()
		if err == nil {
			_ = l.Close()
			return addr, nil
		}
	}
	return "", errors.New("no port free for both UDP and TCP")
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
// With Options.NATSBinary the server process is killed with SIGKILL instead.
func (s *System) RestartNATS(pause time.Duration) error {
	if s.natsProc != nil {
		_ = syscall.Kill(-s.natsProc.PID(), syscall.SIGKILL)
		<-s.natsProc.done
		time.Sleep(pause)
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			// The port can linger a moment after the kill.
			if err = s.startNATSProc(); err == nil {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return fmt.Errorf("restart nats: %w", err)
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

// startNATSProc starts the NATS server process on natsURL's port with JetStream
// stored in natsDir, and waits until it accepts connections.
func (s *System) startNATSProc() error {
	u, err := url.Parse(s.natsURL)
	if err != nil {
		return err
	}
	p, err := s.spawn("nats", s.opts.NATSBinary, os.Environ(), "-js", "-sd", s.natsDir, "-a", "127.0.0.1", "-p", u.Port(), "-n", "podwarden")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err == nil {
			c.Close()
			s.mu.Lock()
			s.natsProc = p
			s.mu.Unlock()
			return nil
		}
		if p.exited() || time.Now().After(deadline) {
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
			<-p.done
			return fmt.Errorf("nats-server did not start on %s (log %s)", u.Host, filepath.Join(s.logDir, "nats.log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
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
// the services, the gateway and, when Options.NATSBinary runs it as a process, NATS.
func (s *System) PIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	if s.natsProc != nil && !s.natsProc.exited() {
		pids = append(pids, s.natsProc.PID())
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
	if s.natsProc != nil {
		_ = syscall.Kill(-s.natsProc.PID(), syscall.SIGKILL)
		<-s.natsProc.done
	}
	s.dropDB()
}
