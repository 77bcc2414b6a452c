package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/chaos"
)

// TestChaosShort is the chaos harness's short, fixed-seed run (`make chaos` runs many
// trials): four workload steps, each under a fault, and every invariant must hold.
// Seeds 26, 27, 28 and 46: a StatefulSet roll with a deployment replica killed; a
// CronJob's minute with the job service's connections to Postgres cut across it; a
// StatefulSet's creation with the NATS server killed; an HPA's creation with the
// autoscaler's connections to NATS cut. A violation names the seed that repeats its
// trial: `make chaos SEEDS=<seed>`.
func TestChaosShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	seeds := []uint64{26, 27, 28, 46}
	rep, err := chaos.Run(ctx, chaos.Config{Bins: bins, Seeds: seeds, Deadline: 40 * time.Second,
		Dir: t.TempDir(), Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Trials != len(seeds) {
		t.Errorf("ran %d trials, want %d", rep.Trials, len(seeds))
	}
	for _, k := range []string{"kill-service", "cut-postgres", "kill-nats", "cut-nats"} {
		if rep.Faults[k] != 1 {
			t.Errorf("faults %v: want one %s", rep.Faults, k)
		}
	}
	for _, v := range rep.Violations {
		t.Error(v)
	}
}

// TestChaosHA: 2 replicas of every service and a 3-node NATS cluster (streams on all
// three); during a Deployment's roll the replica holding the deployment service's
// lease and one NATS server are killed at once (seed 31: nats-0). The roll finishes,
// another replica holds the lease within the TTL (plus a standby's retry period and
// 1 s of slack for a loaded machine), and every invariant holds.
func TestChaosHA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := chaos.Run(ctx, chaos.Config{Bins: bins, HA: true, Seeds: []uint64{31}, Deadline: 40 * time.Second,
		Dir: t.TempDir(), Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Trials != 1 || rep.Faults["kill-leader+nats-node"] != 1 {
		t.Errorf("%d trials, faults %v: want the one kill of a lease holder and a NATS node", rep.Trials, rep.Faults)
	}
	if len(rep.Handovers) != 1 || len(rep.Convergence) != 1 {
		t.Errorf("hand-overs %v, convergence %v: want one of each", rep.Handovers, rep.Convergence)
	}
	for _, v := range rep.Violations {
		t.Error(v)
	}
}

// testWriter sends the harness's report to the test log, line by line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
