// Command bench measures what users feel, on a whole system started like the
// integration tests (real processes, Postgres, NATS): seconds until N pods are Ready,
// a rolling update of every Deployment, deleting everything, API latency percentiles
// under concurrent clients, CPU-seconds and peak memory. It runs the workload several
// times and prints the median of each figure as `name value unit`.
//
//	go run ./shared/devenv/withpg -- go run ./integration/bench -runs 3
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"
)

type config struct {
	// scale names the workload and prefixes its figures ("w1", "w10").
	scale                                                 string
	runs, deployments, replicas, nodes, clients, requests int
	timeout                                               time.Duration
}

// scales are the workloads of issue "Scale": Deployments x replicas on nodes-1 workers.
var scales = map[string]config{
	"w1":  {deployments: 50, replicas: 20, nodes: 11},
	"w10": {deployments: 100, replicas: 100, nodes: 101},
}

func main() {
	var cfg config
	var names string
	flag.StringVar(&names, "scales", "w1", "workloads to run, in order (w1: 50 Deployments x 20 on 10 workers; w10: 100 x 100 on 100); -deployments, -replicas and -nodes override them")
	flag.IntVar(&cfg.runs, "runs", 3, "runs; each figure is the median over them")
	flag.IntVar(&cfg.deployments, "deployments", 0, "Deployments (default: the scale's)")
	flag.IntVar(&cfg.replicas, "replicas", 0, "replicas per Deployment (default: the scale's)")
	flag.IntVar(&cfg.nodes, "nodes", 0, "simulated nodes: the control-plane (tainted) and nodes-1 workers (default: the scale's)")
	flag.IntVar(&cfg.clients, "clients", 50, "concurrent API clients")
	flag.IntVar(&cfg.requests, "requests", 40, "requests per client per operation")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "how long a phase may take")
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
			fail(fmt.Errorf("unknown scale %q (w1, w10)", name))
		}
		c := cfg
		c.scale = name
		c.deployments = cmp.Or(cfg.deployments, sc.deployments)
		c.replicas = cmp.Or(cfg.replicas, sc.replicas)
		c.nodes = cmp.Or(cfg.nodes, sc.nodes)
		runs = append(runs, c)
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
	fmt.Printf("# postgres: %s\n", benchutil.Durability(dsn))
	perPod := map[string]float64{}
	for _, c := range runs {
		var results []benchutil.Run
		for i := range c.runs {
			r, err := runOnce(c, bins, dsn, fmt.Sprintf("%s/%s-run%d", dir, c.scale, i))
			if err != nil {
				fail(err)
			}
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "%s run %d:", c.scale, i+1)
			for _, f := range r {
				fmt.Fprintf(os.Stderr, " %s=%.3g", f.Name, f.Value)
			}
			fmt.Fprintln(os.Stderr)
		}
		fmt.Printf("# %s, medians of %d runs: %d Deployments x %d replicas on %d nodes, %d clients\n", c.scale, c.runs, c.deployments, c.replicas, c.nodes, c.clients)
		medians, _ := benchutil.Medians(results)
		for _, f := range medians {
			fmt.Printf("%s %s %s\n", f.Name, benchutil.Format(f.Value), f.Unit)
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func runOnce(cfg config, bins map[string]string, dsn, dir string) (benchutil.Run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfg.timeout)
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
