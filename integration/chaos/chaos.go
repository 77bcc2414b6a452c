// Package chaos is the chaos harness (issue 16): it runs the whole system as separate
// processes (every service, the gateway, NATS, a Postgres of its own) and repeats
// trials. A trial picks a random workload step (a Deployment created, scaled, rolled,
// undone or deleted with each propagation policy; a StatefulSet with a claim template
// created, scaled, rolled or deleted; a Job with parallelism, or one whose pods all
// fail; a CronJob created or left to run, timed so that the fault lands around its
// minute; a Deployment under an HPA whose simulated load changes; a DaemonSet rolled
// or deleted while nodes come and go) and, at a random instant during it, kills a
// random process with SIGKILL (a service replica, the gateway, the NATS server,
// Postgres), stops a service replica with SIGSTOP for 1-5 s, or cuts one replica's
// connections to Postgres or to NATS for 1-5 s (harness.Link), then restarts
// (continues, reconnects) it. It then checks invariants against the API: the
// workload converges to its spec within a deadline; a pod watch never sees two pods
// for one StatefulSet ordinal, nor a Deployment's ReplicaSets wanting more than
// replicas+maxSurge pods (or, while it rolls, below replicas-maxUnavailable ready
// ones), nor a pod added to a ReplicaSet beyond its spec.replicas; a Job watch never
// sees a CronJob's minute run twice nor a Job count more successes than its
// completions; no pod or ReplicaSet outlives its controller after a grace period for
// the garbage collector; every object created and not deleted still exists. Every
// random choice of a trial comes from its seed.
package chaos

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/devenv"
)

// Config shapes a run.
type Config struct {
	// Bins are the process binaries (harness.Build).
	Bins map[string]string
	// Trials to run; trial i uses seed Seed+i (so `-seed S -trials 1` repeats trial S).
	Trials int
	Seed   uint64
	// Seeds, when set, are the trials' seeds instead (Trials is their number).
	Seeds []uint64
	// Deadline for a workload to converge after its step (default 60 s).
	Deadline time.Duration
	// GCGrace is how long a pod or ReplicaSet may outlive its controller (default 20 s).
	GCGrace time.Duration
	// Dir holds Postgres' cluster, NATS' store and the processes' logs.
	Dir string
	// Out receives the report as it goes.
	Out io.Writer
	// HA runs 2 replicas of every service and a 3-node NATS cluster, and adds the
	// fault that kills a lease holder and a NATS node at once.
	HA bool
}

// Violation is one broken invariant, with the seed of its trial.
type Violation struct {
	Trial   int
	Seed    uint64
	Kind    string
	Message string
}

func (v Violation) String() string {
	return fmt.Sprintf("violation trial=%d seed=%d %s: %s", v.Trial, v.Seed, v.Kind, v.Message)
}

// Report is what a run found.
type Report struct {
	Trials      int
	Faults      map[string]int
	Violations  []Violation
	Convergence []time.Duration
	// Handovers: from a lease holder's kill until another replica held the lease.
	Handovers []time.Duration
	// LogDir holds every process's log.
	LogDir string
}

type runner struct {
	cfg   Config
	out   io.Writer
	sys   *harness.System
	pg    *devenv.Postgres
	pgDir string
	cs    kubernetes.Interface
	mon   *monitor
	// mu guards rep (the fault's goroutine reports too).
	mu  sync.Mutex
	rep *Report
}

// Run starts a system and runs the trials. An error means the harness itself could not
// run (the system did not start); broken invariants are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.Deadline = cmp.Or(cfg.Deadline, 60*time.Second)
	cfg.GCGrace = cmp.Or(cfg.GCGrace, 20*time.Second)
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	c := &runner{cfg: cfg, out: cfg.Out, pgDir: filepath.Join(cfg.Dir, "pg"),
		rep: &Report{Faults: map[string]int{}, LogDir: filepath.Join(cfg.Dir, "logs")}}
	// A Postgres of its own, durable (a commit is on disk before it is acknowledged:
	// with synchronous_commit off a killed Postgres loses acknowledged writes), so the
	// harness may kill it.
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresConfig{Dir: c.pgDir, Durable: true})
	if err != nil {
		return nil, err
	}
	c.pg = pg
	defer func() { _ = c.pg.Stop() }()
	// NATS as a process of its own, so that it can be killed with SIGKILL.
	natsBin, err := harness.BuildNATS(filepath.Join(cfg.Dir, "bin"))
	if err != nil {
		return nil, err
	}
	opts := harness.Options{
		Nodes: 4, Replicas: 2, LogDir: c.rep.LogDir, NATSBinary: natsBin, Links: true,
		// Pods take 0.5 s from scheduled to Ready, so a step lasts long enough (a roll
		// of 5 replicas a few seconds) for the fault to land in its middle; Job back-off
		// is 1 s, then 2 s. The autoscaler syncs every 500 ms and counts a pod's cpu
		// 1 s after it started (Kubernetes: 15 s, 5 min, 30 s).
		Env: []string{"PODWARDEN_JOB_TIME_SCALE=0.1", "PODWARDEN_SIM_START_DELAY=200ms", "PODWARDEN_SIM_READY_DELAY=300ms",
			"PODWARDEN_HPA_SYNC_PERIOD=500ms", "PODWARDEN_HPA_CPU_INITIALIZATION_PERIOD=1s", "PODWARDEN_HPA_INITIAL_READINESS_DELAY=1s"},
	}
	if cfg.HA {
		opts.AllReplicas, opts.NATSCluster = 2, 3
	}
	c.sys, err = harness.Start(ctx, cfg.Bins, pg.DSN, filepath.Join(cfg.Dir, "nats"), opts)
	if err != nil {
		return nil, err
	}
	defer c.sys.Stop()
	c.cs, err = kubernetes.NewForConfig(&rest.Config{Host: c.sys.GatewayURL, QPS: 200, Burst: 400, Timeout: callTimeout,
		// JSON: the gateway decodes protobuf bodies for some kinds only (not batch/v1 Jobs).
		ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"}})
	if err != nil {
		return nil, err
	}
	c.mon = newMonitor(c.cs)
	monCtx, stopMon := context.WithCancel(ctx)
	defer stopMon()
	go c.mon.run(monCtx)
	go c.mon.runJobs(monCtx)
	go c.mon.runReplicaSets(monCtx)
	if cfg.HA {
		// Every stream on the 3 NATS servers (one may die), every service twice.
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := c.sys.StreamReplicas(ictx, "POD_COMMANDS")
		cancel()
		if err != nil || n != 3 {
			return nil, fmt.Errorf("HA: stream POD_COMMANDS on %d NATS servers, want 3 (%v)", n, err)
		}
		fmt.Fprintf(c.out, "# HA: %d service processes (2 of each), %d NATS servers, POD_COMMANDS on %d of them, lease TTL %v\n",
			len(serviceProcs(c.sys)), c.sys.NATSNodes(), n, harness.LeaseTTL)
	}
	seeds := cfg.Seeds
	if len(seeds) == 0 {
		for i := range cfg.Trials {
			seeds = append(seeds, cfg.Seed+uint64(i))
		}
		fmt.Fprintf(c.out, "# chaos: %d trials from seed %d; deadline %v; logs in %s\n", cfg.Trials, cfg.Seed, cfg.Deadline, c.rep.LogDir)
	} else {
		fmt.Fprintf(c.out, "# chaos: %d trials, seeds %v; deadline %v; logs in %s\n", len(seeds), seeds, cfg.Deadline, c.rep.LogDir)
	}
	for i, seed := range seeds {
		if ctx.Err() != nil {
			break
		}
		c.trial(ctx, i, seed)
		c.rep.Trials++
	}
	c.summary()
	return c.rep, nil
}

func (c *runner) violate(trial int, seed uint64, kind, msg string) {
	v := Violation{Trial: trial, Seed: seed, Kind: kind, Message: msg}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rep.Violations = append(c.rep.Violations, v)
	fmt.Fprintln(c.out, "  "+v.String())
}

// plan draws a trial from its seed: the workload, its step and the fault.
func plan(e *env, seed uint64, procs []string, ha bool) (workload, string, fault) {
	e.r = rand.New(rand.NewPCG(seed, 0x5eed))
	e.ns = fmt.Sprintf("chaos-%d", seed)
	w := newWorkload(e)
	// One slot for deleting (then a policy), so deletes are not most trials.
	var steps []string
	for _, s := range w.Steps() {
		if !slices.Contains(deleteSteps, s) {
			steps = append(steps, s)
		}
	}
	steps = append(append([]string{"create"}, steps...), "delete")
	step := steps[e.r.IntN(len(steps))]
	if step == "delete" {
		step = deleteSteps[e.r.IntN(len(deleteSteps))]
	}
	return w, step, planFault(e.r, procs, serviceOf[w.Kind()], ha)
}

// serviceOf is the service that runs a workload's controller.
var serviceOf = map[string]string{"deployment": "deployment", "statefulset": "statefulset", "job": "job", "failing-job": "job", "daemonset": "daemonset",
	"cronjob": "job", "hpa": "autoscaler"}

// Plan describes what the trial of a seed does, without running it, on the system Run
// starts (2 deployment replicas and one of every other service; with ha, 2 of every
// service).
func Plan(seed uint64, ha bool) string {
	var procs []string
	for _, name := range harness.Services {
		replicas := 1
		if ha || name == "deployment" {
			replicas = 2
		}
		for i := range replicas {
			procs = append(procs, fmt.Sprintf("%s-%d", name, i))
		}
	}
	slices.Sort(procs)
	w, step, f := plan(&env{}, seed, procs, ha)
	return fmt.Sprintf("seed=%d %s/%s %s; fault: %s", seed, w.Kind(), w.Name(), step, f)
}

func newWorkload(e *env) workload {
	switch e.r.IntN(7) {
	case 0:
		return newDeployment(e)
	case 1:
		return newStatefulSet(e)
	case 2:
		return newJob(e, false)
	case 3:
		return newJob(e, true)
	case 4:
		return newCronJob(e)
	case 5:
		return newHPA(e)
	default:
		return newDaemonSet(e)
	}
}

// trial runs one workload step under one fault and checks the invariants.
func (c *runner) trial(ctx context.Context, i int, seed uint64) {
	e := &env{cs: c.cs, m: c.mon}
	w, step, f := plan(e, seed, serviceProcs(c.sys), c.cfg.HA)
	c.rep.Faults[f.kind]++
	fmt.Fprintf(c.out, "trial %d seed=%d %s/%s %s; fault: %s\n", i, seed, w.Kind(), w.Name(), step, f)

	deadline := c.cfg.Deadline
	tctx, cancel := context.WithTimeout(ctx, 4*deadline)
	defer cancel()
	// The trial's namespace, before anything is created in it (it stays: a later
	// trial of the same seed finds it).
	if _, err := create(tctx, "namespace "+e.ns, func(ctx context.Context) (metav1.Object, error) {
		return c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{})
	}, func(ctx context.Context) (metav1.Object, error) {
		return c.cs.CoreV1().Namespaces().Get(ctx, e.ns, metav1.GetOptions{})
	}); err != nil {
		c.violate(i, seed, "harness", "setup: "+err.Error())
		return
	}
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		w.Cleanup(cctx)
	}()
	// Before the fault: the object exists and has converged (and what the step needs).
	if step != "create" {
		if err := w.Create(tctx); err != nil {
			c.violate(i, seed, "harness", "setup: "+err.Error())
			return
		}
		// Converged before Prepare too: an undo needs the first revision rolled out
		// (a template changed before the first sync makes one ReplicaSet, not two).
		for _, prepare := range []bool{false, true} {
			if prepare {
				if err := w.Prepare(tctx, step); err != nil {
					c.violate(i, seed, "harness", "setup: "+err.Error())
					return
				}
			}
			if _, why := c.converge(tctx, w, deadline); why != "" {
				c.violate(i, seed, "convergence", fmt.Sprintf("%s/%s before the step (no fault yet): %s", w.Kind(), w.Name(), why))
				return
			}
		}
	}
	// A step bound to the clock (a CronJob's minute) starts when it says.
	if a, ok := w.(aligner); ok {
		if err := a.Align(tctx, step); err != nil {
			c.violate(i, seed, "harness", "align: "+err.Error())
			return
		}
	}
	start := time.Now()
	faultDone := make(chan error, 1)
	go func() { faultDone <- c.inject(tctx, i, seed, f) }()
	if err := w.Do(tctx, step); err != nil {
		c.violate(i, seed, "harness", fmt.Sprintf("step %s: %v", step, err))
	}
	if err := <-faultDone; err != nil {
		c.violate(i, seed, "harness", fmt.Sprintf("fault %s: %v", f, err))
	}
	c.supervise(i, seed)
	took, why := c.converge(tctx, w, deadline-time.Since(start))
	if why != "" {
		c.violate(i, seed, "convergence", fmt.Sprintf("%s/%s %s did not converge within %v: %s", w.Kind(), w.Name(), step, deadline, why))
	} else {
		took = time.Since(start) // from the step's start, fault included
		c.rep.Convergence = append(c.rep.Convergence, took)
		fmt.Fprintf(c.out, "  converged in %.1fs\n", took.Seconds())
	}
	// The watch sees a broken bound at every event while it lasts: once per message.
	seen := map[string]int{}
	var msgs []string
	for _, msg := range c.mon.take() {
		if seen[msg]++; seen[msg] == 1 {
			msgs = append(msgs, msg)
		}
	}
	for _, msg := range msgs {
		kind, text, _ := strings.Cut(msg, ": ")
		if n := seen[msg]; n > 1 {
			text += fmt.Sprintf(" (%d events)", n)
		}
		c.violate(i, seed, kind, text)
	}
	// The checks after the trial get their own time (the trial's may be spent).
	cctx, ccancel := context.WithTimeout(ctx, c.cfg.GCGrace+time.Minute)
	defer ccancel()
	c.checkOwners(cctx, i, seed)
	c.checkAlive(cctx, i, seed, w.Alive())
}

// converge polls the workload until it converges or the time is up; it returns how
// long it took, or why it has not converged.
func (c *runner) converge(ctx context.Context, w workload, within time.Duration) (time.Duration, string) {
	start := time.Now()
	why := "not checked"
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		msg, err := w.Converged(cctx)
		cancel()
		switch {
		case err != nil:
			why = "reading it: " + err.Error()
		case msg == "":
			return time.Since(start), ""
		default:
			why = msg
		}
		if time.Since(start) > within || ctx.Err() != nil {
			return 0, why
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// supervise restarts any service replica that exited by itself (a fault it did not
// survive), and reports it: a service should ride out a lost connection.
func (c *runner) supervise(i int, seed uint64) {
	for _, name := range harness.Services {
		for _, p := range c.sys.Procs(name) {
			if !p.Exited() {
				continue
			}
			c.violate(i, seed, "process-exit", fmt.Sprintf("%s exited by itself (log %s)", p.Name, filepath.Join(c.rep.LogDir, p.Name+".log")))
			c.sys.KillProc(p)
			if _, err := c.sys.StartService(name, p.Replica()); err != nil {
				c.violate(i, seed, "harness", fmt.Sprintf("restart %s: %v", p.Name, err))
			}
		}
	}
	if gw := c.sys.Procs("gateway"); len(gw) != 1 || gw[0].Exited() {
		c.violate(i, seed, "process-exit", "the gateway exited by itself")
		if err := c.sys.RestartGateway(); err != nil {
			c.violate(i, seed, "harness", "restart gateway: "+err.Error())
		}
	}
}

// checkOwners: no pod or ReplicaSet whose controller is gone, once the garbage
// collector had its grace period.
func (c *runner) checkOwners(ctx context.Context, i int, seed uint64) {
	deadline := time.Now().Add(c.cfg.GCGrace)
	var orphans []string
	for {
		orphans = orphans[:0]
		err := retry(ctx, "list pods", func(ctx context.Context) error {
			var err error
			orphans, err = c.orphans(ctx)
			return err
		})
		if err != nil {
			c.violate(i, seed, "harness", err.Error())
			return
		}
		if len(orphans) == 0 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	c.violate(i, seed, "orphan", fmt.Sprintf("%d objects outlive their controller by %v: %s", len(orphans), c.cfg.GCGrace, strings.Join(orphans, ", ")))
}

func (c *runner) orphans(ctx context.Context) ([]string, error) {
	owners := map[types.UID]bool{}
	rss, err := c.cs.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, o := range rss.Items {
		owners[o.UID] = o.DeletionTimestamp == nil || len(o.Finalizers) > 0
	}
	sts, err := c.cs.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, o := range sts.Items {
		owners[o.UID] = true
	}
	dss, err := c.cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, o := range dss.Items {
		owners[o.UID] = true
	}
	jobs, err := c.cs.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, o := range jobs.Items {
		owners[o.UID] = true
	}
	deps, err := c.cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, o := range deps.Items {
		owners[o.UID] = true
	}
	pods, err := c.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if ref := metav1.GetControllerOf(p); ref != nil && !owners[ref.UID] && ownerKinds[ref.Kind] {
			out = append(out, fmt.Sprintf("pod %s/%s (controller %s %s)", p.Namespace, p.Name, ref.Kind, ref.Name))
		}
	}
	for i := range rss.Items {
		rs := &rss.Items[i]
		if ref := metav1.GetControllerOf(rs); ref != nil && !owners[ref.UID] && ref.Kind == "Deployment" {
			out = append(out, fmt.Sprintf("replicaset %s/%s (controller %s %s)", rs.Namespace, rs.Name, ref.Kind, ref.Name))
		}
	}
	slices.Sort(out)
	return out, nil
}

// ownerKinds are the controllers whose pods the check follows.
var ownerKinds = map[string]bool{"ReplicaSet": true, "StatefulSet": true, "DaemonSet": true, "Job": true}

// checkAlive: every object the harness created (and was told so) and did not delete
// still exists, with the same UID.
func (c *runner) checkAlive(ctx context.Context, i int, seed uint64, objs []object) {
	for _, o := range objs {
		var lost bool
		err := retry(ctx, "get "+o.name, func(ctx context.Context) error {
			obj, err := o.get(ctx)
			if apierrors.IsNotFound(err) {
				lost = true
				return nil
			}
			if err != nil {
				return err
			}
			lost = obj.GetUID() != o.uid
			return nil
		})
		if err != nil {
			c.violate(i, seed, "harness", err.Error())
			continue
		}
		if lost {
			c.violate(i, seed, "lost-object", fmt.Sprintf("%s %s/%s (uid %s) was created and acknowledged, and is gone", o.kind, o.namespace, o.name, o.uid))
		}
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func (c *runner) summary() {
	rep := c.rep
	events, relists, jobEvents := c.mon.counts()
	fmt.Fprintf(c.out, "# the pod watch saw %d events and started over %d times; the Job watch saw %d events\n", events, relists, jobEvents)
	fmt.Fprintln(c.out, "# faults injected, by kind")
	kinds := make([]string, 0, len(rep.Faults))
	for k := range rep.Faults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(c.out, "chaos_faults{kind=%q} %d\n", k, rep.Faults[k])
	}
	if len(rep.Violations) > 0 {
		fmt.Fprintln(c.out, "# violations (repeat one with: make chaos TRIALS=1 SEED=<seed>)")
		for _, v := range rep.Violations {
			fmt.Fprintln(c.out, v.String())
		}
		fmt.Fprintf(c.out, "# process logs: %s\n", rep.LogDir)
	}
	conv := slices.Clone(rep.Convergence)
	slices.Sort(conv)
	fmt.Fprintf(c.out, "# convergence after a step under a fault: %d trials converged\n", len(conv))
	fmt.Fprintf(c.out, "chaos_convergence_p50_seconds %.2f\n", percentile(conv, 0.5).Seconds())
	fmt.Fprintf(c.out, "chaos_convergence_p90_seconds %.2f\n", percentile(conv, 0.9).Seconds())
	fmt.Fprintf(c.out, "chaos_convergence_max_seconds %.2f\n", percentile(conv, 1).Seconds())
	if len(rep.Handovers) > 0 {
		ho := slices.Clone(rep.Handovers)
		slices.Sort(ho)
		fmt.Fprintf(c.out, "# lease hand-overs after the holder's kill: %d (TTL %v)\n", len(ho), harness.LeaseTTL)
		fmt.Fprintf(c.out, "chaos_handover_p50_seconds %.2f\n", percentile(ho, 0.5).Seconds())
		fmt.Fprintf(c.out, "chaos_handover_max_seconds %.2f\n", percentile(ho, 1).Seconds())
	}
	fmt.Fprintf(c.out, "chaos_trials %d\n", rep.Trials)
	fmt.Fprintf(c.out, "chaos_violations %d\n", len(rep.Violations))
}

// TempDir makes a folder for a run (Postgres refuses a folder it cannot own: the
// folder must be reachable by the postgres user when the harness runs as root).
func TempDir() (string, error) {
	dir, err := os.MkdirTemp("", "podwarden-chaos-")
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}
