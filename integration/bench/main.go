// Command bench measures what users feel, on a whole system started like the
// integration tests (real processes, Postgres, NATS as a process of its own): the
// workloads of issue "Scale", each a list of phases (scales below), e.g. seconds
// until N pods are Ready, a rolling update of every Deployment, deleting
// everything, API latency percentiles under concurrent clients, a minute idle,
// CPU-seconds and peak memory. It runs each workload several times, each on a fresh
// system, and prints the median of each figure as `name value unit`, with the runs.
//
//	go run ./shared/devenv/withpg -durable -- go run ./integration/bench -scales w1 -runs 3
//
// Its own polling stays small beside what it measures: the poll interval grows with
// the world (20 ms at W1, 1 s at W100), lists are paged (and the client accepts
// large pages), and the large workloads are created by many clients at once.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/devenv"
)

type config struct {
	// scale names the workload and prefixes its figures ("w1", "w10").
	scale                                                 string
	runs, deployments, replicas, nodes, clients, requests int
	// pageSize is the limit of each page the bench lists.
	pageSize int
	// phases are what a run does, in order (the keys of phases in workload.go).
	phases []string
	// readyFigure names the seconds until every Deployment is rolled out
	// ("pods_ready_seconds"; "available_seconds" for D50k).
	readyFigure string
	// interval between two polls of a wait; createWidth concurrent clients create
	// the Deployments.
	interval    time.Duration
	createWidth int
	idle        time.Duration
	timeout     time.Duration
	// freshPostgres starts a Postgres server for each run; durable is how the
	// server of PODWARDEN_TEST_POSTGRES_DSN is, and so how those are.
	freshPostgres, durable bool
}

// scales are the workloads of issue "Scale": Deployments x replicas on nodes-1
// workers (the first node is the tainted control plane).
var scales = map[string]config{
	"w1": {deployments: 50, replicas: 20, nodes: 11, interval: 20 * time.Millisecond, createWidth: 16,
		phases: []string{"ready", "update", "latency", "delete"}},
	"w10": {deployments: 100, replicas: 100, nodes: 101, interval: 200 * time.Millisecond, createWidth: 16,
		phases: []string{"ready", "update", "latency", "delete"}},
	"w100": {deployments: 1000, replicas: 100, nodes: 1001, interval: time.Second, createWidth: 32, timeout: 30 * time.Minute,
		phases: []string{"ready", "idle", "delete"}},
	"d50k": {deployments: 50000, replicas: 1, nodes: 501, interval: time.Second, createWidth: 64, timeout: 30 * time.Minute, pageSize: 25000,
		phases: []string{"ready"}, readyFigure: "available_seconds"},
	"n5k": {nodes: 5001, interval: 500 * time.Millisecond, timeout: 15 * time.Minute,
		phases: []string{"nodes", "daemonset", "daemonset-update"}},
}

func scaleNames() string {
	names := make([]string, 0, len(scales))
	for n := range scales {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func main() {
	var cfg config
	var names string
	flag.StringVar(&names, "scales", "w1", "workloads to run, in order: w1 (50 Deployments x 20 on 10 workers), w10 (100 x 100 on 100), w100 (1,000 x 100 on 1,000; then a minute idle), d50k (50,000 x 1 on 500), n5k (5,000 nodes, then one DaemonSet); -deployments, -replicas and -nodes override them")
	flag.IntVar(&cfg.runs, "runs", 3, "runs of each workload, each on a fresh system; each figure is the median over them")
	flag.IntVar(&cfg.deployments, "deployments", 0, "Deployments (default: the scale's)")
	flag.IntVar(&cfg.replicas, "replicas", 0, "replicas per Deployment (default: the scale's)")
	flag.IntVar(&cfg.nodes, "nodes", 0, "simulated nodes: the control-plane (tainted) and nodes-1 workers (default: the scale's)")
	flag.IntVar(&cfg.clients, "clients", 50, "concurrent API clients of the latency phase")
	flag.IntVar(&cfg.requests, "requests", 40, "requests per client per operation of the latency phase")
	flag.IntVar(&cfg.pageSize, "page", 0, "limit of each page of a list (default 5000, 25000 at D50k: the watch cache sorts the whole list for each page)")
	flag.DurationVar(&cfg.idle, "idle", time.Minute, "how long the idle phase (W100) lasts")
	flag.DurationVar(&cfg.interval, "interval", 0, "poll interval (default: the scale's, 20ms at W1 up to 1s at W100)")
	flag.DurationVar(&cfg.timeout, "timeout", 0, "how long a phase may take (default: 10m, 15m at N5k, 30m at W100 and D50k)")
	flag.BoolVar(&cfg.freshPostgres, "fresh-postgres", true, "start a Postgres server of its own for each run (as durable as the one of PODWARDEN_TEST_POSTGRES_DSN), so that no run inherits another's WAL, checkpoints or dead rows")
	flag.Parse()
	dsn := os.Getenv("PODWARDEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		fmt.Fprintln(os.Stderr, "bench: PODWARDEN_TEST_POSTGRES_DSN is not set; run it through shared/devenv/withpg (make bench)")
		os.Exit(2)
	}
	var runs []config
	for _, name := range strings.Split(names, ",") {
		sc, ok := scales[name]
		if !ok {
			fail(fmt.Errorf("unknown scale %q (%s)", name, scaleNames()))
		}
		c := cfg
		c.scale, c.phases, c.createWidth = name, sc.phases, sc.createWidth
		c.deployments = cmp.Or(cfg.deployments, sc.deployments)
		c.replicas = cmp.Or(cfg.replicas, sc.replicas)
		c.nodes = cmp.Or(cfg.nodes, sc.nodes)
		c.interval = cmp.Or(cfg.interval, sc.interval)
		c.pageSize = cmp.Or(cfg.pageSize, sc.pageSize, 5000)
		c.timeout = cmp.Or(cfg.timeout, sc.timeout, 10*time.Minute)
		c.readyFigure = cmp.Or(sc.readyFigure, "pods_ready_seconds")
		runs = append(runs, c)
	}
	dir, err := os.MkdirTemp("", "podwarden-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	bins, err := harness.Build(filepath.Join(dir, "bin"))
	if err != nil {
		fail(err)
	}
	// NATS runs as a process of its own, so that its CPU and memory are counted.
	natsBin, err := harness.BuildNATS(filepath.Join(dir, "bin"))
	if err != nil {
		fail(err)
	}
	durability := benchutil.Durability(dsn)
	cfg.durable = strings.HasPrefix(durability, "durable")
	if cfg.freshPostgres {
		durability += "; a fresh server for each run"
	}
	fmt.Printf("# postgres: %s\n", durability)
	perPod := map[string]float64{}
	for _, c := range runs {
		c.durable = cfg.durable
		var results []benchutil.Run
		loads := []string{benchutil.Uptime()}
		for i := range c.runs {
			r, err := runOnce(c, bins, natsBin, dsn, filepath.Join(dir, fmt.Sprintf("%s-run%d", c.scale, i+1)))
			if err != nil {
				fail(fmt.Errorf("%s run %d: %w", c.scale, i+1, err))
			}
			results = append(results, r)
			loads = append(loads, benchutil.Uptime())
			fmt.Fprintf(os.Stderr, "%s run %d:", c.scale, i+1)
			for _, f := range r {
				fmt.Fprintf(os.Stderr, " %s=%s", f.Name, benchutil.Format(f.Value))
			}
			fmt.Fprintln(os.Stderr)
		}
		fmt.Printf("# %s, medians of %d runs (then the runs), each on a fresh system: %s\n", c.scale, c.runs, c.describe())
		fmt.Printf("# load averages (1/5/15 min) before and after each run: %s\n", strings.Join(loads, " | "))
		medians, per := benchutil.Medians(results)
		for i, f := range medians {
			vals := make([]string, len(per[i]))
			for j, v := range per[i] {
				vals[j] = benchutil.Format(v)
			}
			fmt.Printf("%s %s %s (runs: %s)\n", f.Name, benchutil.Format(f.Value), f.Unit, strings.Join(vals, " / "))
			if f.Name == c.scale+"_cpu_per_1000_pods" {
				perPod[c.scale] = f.Value
			}
		}
	}
	// How the cost of a pod grows with the size of the world.
	if base := perPod["w1"]; base > 0 {
		for _, c := range runs {
			if c.scale != "w1" && perPod[c.scale] > 0 {
				fmt.Printf("cpu_growth_%s_over_w1 %s ratio\n", c.scale, benchutil.Format(perPod[c.scale]/base))
			}
		}
	}
}

// describe is the workload in words, for the output's comment line.
func (c config) describe() string {
	var w string
	if slices.Contains(c.phases, "ready") {
		w = fmt.Sprintf("%d Deployments x %d replicas on %d workers", c.deployments, c.replicas, c.nodes-1)
	} else {
		w = fmt.Sprintf("%d workers", c.nodes-1)
	}
	return fmt.Sprintf("%s; phases %s; polls every %v", w, strings.Join(c.phases, ", "), c.interval)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func runOnce(cfg config, bins map[string]string, natsBin, dsn, dir string) (benchutil.Run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(len(cfg.phases)+1)*cfg.timeout)
	defer cancel()
	if cfg.freshPostgres {
		pgCtx, pgCancel := context.WithTimeout(ctx, 2*time.Minute)
		pg, err := devenv.StartPostgres(pgCtx, devenv.PostgresConfig{Dir: filepath.Join(dir, "postgres"), Durable: cfg.durable})
		pgCancel()
		if err != nil {
			return nil, err
		}
		defer pg.Stop() //nolint:errcheck
		dsn = pg.DSN
	}
	started := time.Now()
	s, err := harness.Start(ctx, bins, dsn, filepath.Join(dir, "nats"), harness.Options{Nodes: cfg.nodes, NATSBinary: natsBin,
		Env: []string{"PODWARDEN_LOG_LEVEL=warn"}, LogDir: filepath.Join(dir, "logs")})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	w := newWorkload(s, cfg, dsn)
	w.started = started
	r, err := w.run(ctx)
	if err != nil {
		err = fmt.Errorf("%w: %s\n%s", err, w.progress, s.Logs(3000))
	}
	return r, err
}
