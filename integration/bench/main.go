// Command bench measures what users feel, on a whole system started like the
// integration tests (real processes, Postgres, NATS): seconds until N pods are Ready,
// a rolling update of every Deployment, deleting everything, API latency percentiles
// under concurrent clients, CPU-seconds and peak memory. It runs the workload several
// times and prints the median of each figure as `name value unit`.
//
//	go run ./shared/devenv/withpg -- go run ./integration/bench -runs 3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"
)

type config struct {
	runs, deployments, replicas, nodes, clients, requests int
	timeout                                               time.Duration
}

func main() {
	var cfg config
	flag.IntVar(&cfg.runs, "runs", 3, "runs; each figure is the median over them")
	flag.IntVar(&cfg.deployments, "deployments", 50, "Deployments")
	flag.IntVar(&cfg.replicas, "replicas", 20, "replicas per Deployment")
	flag.IntVar(&cfg.nodes, "nodes", 11, "simulated nodes: the control-plane (tainted) and nodes-1 workers")
	flag.IntVar(&cfg.clients, "clients", 50, "concurrent API clients")
	flag.IntVar(&cfg.requests, "requests", 40, "requests per client per operation")
	flag.DurationVar(&cfg.timeout, "timeout", 5*time.Minute, "how long a phase may take")
	flag.Parse()
	dsn := os.Getenv("PODWARDEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		fmt.Fprintln(os.Stderr, "bench: PODWARDEN_TEST_POSTGRES_DSN is not set; run it through shared/devenv/withpg (make bench)")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "podwarden-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	bins, err := harness.Build(dir + "/bin")
	if err != nil {
		fail(err)
	}
	var results []benchutil.Run
	for i := range cfg.runs {
		r, err := runOnce(cfg, bins, dsn, fmt.Sprintf("%s/run%d", dir, i))
		if err != nil {
			fail(err)
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "run %d:", i+1)
		for _, f := range r {
			fmt.Fprintf(os.Stderr, " %s=%.3g", f.Name, f.Value)
		}
		fmt.Fprintln(os.Stderr)
	}
	fmt.Printf("# medians of %d runs: %d Deployments x %d replicas on %d nodes, %d clients\n", cfg.runs, cfg.deployments, cfg.replicas, cfg.nodes, cfg.clients)
	medians, _ := benchutil.Medians(results)
	for _, f := range medians {
		fmt.Printf("%s %s %s\n", f.Name, benchutil.Format(f.Value), f.Unit)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func runOnce(cfg config, bins map[string]string, dsn, dir string) (benchutil.Run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, bins, dsn, dir+"/nats", harness.Options{Nodes: cfg.nodes,
		Env: []string{"PODWARDEN_LOG_LEVEL=warn"}})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	w := newWorkload(s, cfg, dsn)
	return w.run(ctx)
}
