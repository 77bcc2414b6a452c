// Command bench_statefulset measures StatefulSets on a whole system started like
// the integration tests (real processes, Postgres, NATS), zero simulated delays:
// for podManagementPolicy Parallel and OrderedReady, each on a fresh system,
// seconds until every pod of N StatefulSets x M replicas is Ready (and every
// claim of their volumeClaimTemplate Bound), then seconds for a rolling image
// update of all of them, CPU-seconds of the podwarden processes and of Postgres
// over the scenario, and peak memory. It prints the median of each figure over
// -runs runs, with the runs, each named statefulset_<policy>_<figure> (e.g.
// statefulset_orderedready_ready_seconds: every pod of the OrderedReady sets Ready).
//
//	go run ./shared/devenv/withpg -- go run ./integration/bench_statefulset -runs 3
//
// -trace watches the pods and prints where an ordered step's time goes (the watch
// costs some CPU itself, so the figures of a traced run are not the benchmark's).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"
)

type config struct {
	runs, sets, replicas, nodes int
	policies                    []string
	timeout                     time.Duration
	trace                       bool
	logLevel, logs              string
	env                         []string
}

func main() {
	var cfg config
	var policies string
	flag.IntVar(&cfg.runs, "runs", 3, "runs of each scenario; each figure is the median over them")
	flag.IntVar(&cfg.sets, "sets", 10, "StatefulSets")
	flag.IntVar(&cfg.replicas, "replicas", 50, "replicas per StatefulSet")
	flag.IntVar(&cfg.nodes, "nodes", 11, "simulated nodes: the control-plane (tainted) and nodes-1 workers (110 pods each)")
	flag.StringVar(&policies, "policies", "Parallel,OrderedReady", "podManagementPolicy of each scenario, comma-separated")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "how long a phase may take")
	flag.BoolVar(&cfg.trace, "trace", false, "watch the pods and print where the time of a step goes")
	flag.StringVar(&cfg.logLevel, "log-level", "warn", "the services' PODWARDEN_LOG_LEVEL")
	flag.StringVar(&cfg.logs, "logs", "", "keep the processes' logs in this folder (default: removed with the run)")
	flag.Func("env", "KEY=VALUE added to every service's environment (repeatable), e.g. PODWARDEN_SIM_READY_DELAY=100ms", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want KEY=VALUE")
		}
		cfg.env = append(cfg.env, v)
		return nil
	})
	flag.Parse()
	cfg.policies = strings.Split(policies, ",")
	dsn := os.Getenv("PODWARDEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		fmt.Fprintln(os.Stderr, "bench_statefulset: PODWARDEN_TEST_POSTGRES_DSN is not set; run it through shared/devenv/withpg (make bench)")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "podwarden-bench-sts-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	bins, err := harness.Build(filepath.Join(dir, "bin"))
	if err != nil {
		fail(err)
	}
	// Runs alternate the scenarios, so a change in the machine's load falls on both.
	results := map[string][]benchutil.Run{}
	loads := []string{benchutil.Uptime()}
	for i := range cfg.runs {
		for _, policy := range cfg.policies {
			r, err := runScenario(cfg, policy, bins, dsn, filepath.Join(dir, fmt.Sprintf("run%d-%s", i+1, policy)))
			if err != nil {
				fail(fmt.Errorf("%s run %d: %w", policy, i+1, err))
			}
			results[policy] = append(results[policy], r)
			load := benchutil.Uptime()
			loads = append(loads, load)
			fmt.Fprintf(os.Stderr, "%s run %d (load %s):", policy, i+1, load)
			for _, f := range r {
				fmt.Fprintf(os.Stderr, " %s=%s", f.Name, benchutil.Format(f.Value))
			}
			fmt.Fprintln(os.Stderr)
		}
	}
	fmt.Printf("# %d StatefulSets x %d replicas (one volumeClaimTemplate each) on %d nodes, zero simulated delays; medians of %d runs (then the runs)\n",
		cfg.sets, cfg.replicas, cfg.nodes, cfg.runs)
	fmt.Printf("# load averages (1/5/15 min) before and after each run: %s\n", strings.Join(loads, " | "))
	for _, policy := range cfg.policies {
		fmt.Printf("# podManagementPolicy %s\n", policy)
		medians, per := benchutil.Medians(results[policy])
		for i, f := range medians {
			var runs []string
			for _, v := range per[i] {
				runs = append(runs, benchutil.Format(v))
			}
			fmt.Printf("statefulset_%s_%s %s %s (runs: %s)\n", strings.ToLower(policy), f.Name, benchutil.Format(f.Value), f.Unit, strings.Join(runs, " / "))
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench_statefulset:", err)
	os.Exit(1)
}

func runScenario(cfg config, policy string, bins map[string]string, dsn, dir string) (benchutil.Run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*cfg.timeout)
	defer cancel()
	env := append([]string{"PODWARDEN_LOG_LEVEL=" + cfg.logLevel}, cfg.env...)
	logDir := filepath.Join(dir, "logs")
	if cfg.logs != "" {
		logDir = filepath.Join(cfg.logs, filepath.Base(dir))
	}
	s, err := harness.Start(ctx, bins, dsn, filepath.Join(dir, "nats"), harness.Options{Nodes: cfg.nodes, Env: env, LogDir: logDir})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	w := newWorkload(s, cfg, policy, dsn)
	r, err := w.run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w\n%s", err, s.Logs(3000))
	}
	return r, err
}
