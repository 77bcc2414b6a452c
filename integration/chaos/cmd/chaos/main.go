// Command chaos runs the chaos harness (package chaos): trials of a random workload
// step under a random fault (SIGKILL of a service replica, the gateway, the NATS
// server or Postgres; SIGSTOP of a replica; a replica's connections to Postgres or NATS
// cut), then invariants checked through the API.
// Its last lines are `chaos_trials N` and `chaos_violations N`; it exits 1 when any
// invariant broke, and keeps the processes' logs then.
//
//	go run ./integration/chaos/cmd/chaos -trials 20 -seed 1     (make chaos TRIALS=20 SEED=1)
//	go run ./integration/chaos/cmd/chaos -seeds 27,46           (make chaos SEEDS=27,46)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podwarden/podwarden/integration/chaos"
	"github.com/podwarden/podwarden/integration/harness"
)

func main() {
	var cfg chaos.Config
	flag.IntVar(&cfg.Trials, "trials", 20, "trials to run")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the first trial (trial i uses seed+i; -trials 1 -seed S repeats trial S)")
	flag.DurationVar(&cfg.Deadline, "deadline", 60*time.Second, "how long a workload may take to converge after its step")
	flag.DurationVar(&cfg.GCGrace, "gc-grace", 20*time.Second, "how long a pod may outlive its controller")
	seeds := flag.String("seeds", "", "comma-separated seeds to run instead (e.g. the violations' seeds of a past run)")
	flag.BoolVar(&cfg.HA, "ha", false, "2 replicas of every service and a 3-node NATS cluster; half the faults kill a lease holder and a NATS node at once")
	keep := flag.Bool("keep", false, "keep the logs even when no invariant broke")
	dry := flag.Bool("plan", false, "print what each trial would do, and run nothing")
	flag.Parse()
	if *seeds != "" {
		for _, f := range strings.Split(*seeds, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			if err != nil {
				fail(fmt.Errorf("-seeds: %w", err))
			}
			cfg.Seeds = append(cfg.Seeds, n)
		}
		cfg.Trials = len(cfg.Seeds)
	}
	if *dry {
		for i := range cfg.Trials {
			seed := cfg.Seed + uint64(i)
			if len(cfg.Seeds) > 0 {
				seed = cfg.Seeds[i]
			}
			fmt.Println(chaos.Plan(seed, cfg.HA))
		}
		return
	}
	dir, err := chaos.TempDir()
	if err != nil {
		fail(err)
	}
	bins, err := harness.Build(filepath.Join(dir, "bin"))
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Bins, cfg.Dir, cfg.Out = bins, dir, os.Stdout
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		fail(err)
	}
	if len(rep.Violations) > 0 || *keep {
		fmt.Fprintf(os.Stderr, "chaos: logs kept in %s\n", rep.LogDir)
		if len(rep.Violations) > 0 {
			os.Exit(1)
		}
		return
	}
	_ = os.RemoveAll(dir)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chaos:", err)
	os.Exit(1)
}
