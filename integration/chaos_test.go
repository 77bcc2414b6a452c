package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/chaos"
)

// TestChaosShort is the chaos harness's short, fixed-seed run (`make chaos` runs many
// trials): three workload steps, each under a killed or stopped process, and every
// invariant must hold. Seeds 26-28: a StatefulSet roll with a deployment replica killed,
// a failing Job's creation with Postgres killed, a Deployment scaled with replica
// deployment-0 (the first leader) stopped for 2.5 s, longer than the lease. A
// violation names the seed that repeats its trial: `make chaos TRIALS=1 SEED=<seed>`.
func TestChaosShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := chaos.Run(ctx, chaos.Config{Bins: bins, Trials: 3, Seed: 26, Deadline: 40 * time.Second,
		Dir: t.TempDir(), Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Trials != 3 {
		t.Errorf("ran %d trials, want 3", rep.Trials)
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
