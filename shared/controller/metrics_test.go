package controller_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/metrics"
	"github.com/podwarden/podwarden/shared/testenv"
)

// The queue reports client-go's workqueue metrics and each sync under the
// controller's name, to the metrics its Run context carries.
func TestMetricsMoveWithTheQueue(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := prometheus.NewRegistry()
	m := metrics.NewControllers(reg)
	release := make(chan struct{})
	c := controller.New(controller.Config{
		Name: "widgets", Workers: 1, MaxRetries: 1,
		Sync: func(ctx context.Context, key string) error {
			if key == "ns/blocker" {
				<-release
			}
			if key == "ns/broken" {
				return errors.New("broken")
			}
			return nil
		},
	})
	done := make(chan struct{})
	go func() { c.Run(metrics.WithControllers(ctx, m)); close(done) }()
	testenv.Eventually(t, 2*time.Second, "queue running", c.Running)

	value := func(name string, labels ...string) float64 {
		t.Helper()
		v, err := metrics.Value(reg, name, labels...)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	c.Enqueue("ns/blocker") // occupies the only worker
	testenv.Eventually(t, 2*time.Second, "blocker picked up", func() bool { return value("workqueue_depth", "name", "widgets") == 0 })
	c.Enqueue("ns/a")
	c.Enqueue("ns/b")
	c.Enqueue("ns/a") // deduplicated: not an add
	if got := value("workqueue_depth", "name", "widgets"); got != 2 {
		t.Fatalf("workqueue_depth = %v, want 2 (two keys wait behind the blocker)", got)
	}
	if got := value("workqueue_adds_total", "name", "widgets"); got != 3 {
		t.Fatalf("workqueue_adds_total = %v, want 3", got)
	}
	close(release)
	c.Enqueue("ns/broken") // fails, is retried once, then dropped
	testenv.Eventually(t, 5*time.Second, "syncs recorded", func() bool {
		return value("controller_runtime_reconcile_total", "controller", "widgets", "result", "success") == 3 &&
			value("controller_runtime_reconcile_total", "controller", "widgets", "result", "error") == 2
	})
	if got := value("workqueue_retries_total", "name", "widgets"); got != 1 {
		t.Fatalf("workqueue_retries_total = %v, want 1", got)
	}
	if got := value("controller_runtime_reconcile_errors_total", "controller", "widgets"); got != 2 {
		t.Fatalf("controller_runtime_reconcile_errors_total = %v, want 2", got)
	}
	if n := value("controller_runtime_reconcile_time_seconds", "controller", "widgets"); n != 5 {
		t.Fatalf("controller_runtime_reconcile_time_seconds count = %v, want 5", n)
	}
	if n := value("workqueue_work_duration_seconds", "name", "widgets"); n != 5 {
		t.Fatalf("workqueue_work_duration_seconds count = %v, want 5", n)
	}
	cancel()
	<-done
	if got := value("workqueue_depth", "name", "widgets"); got != 0 {
		t.Fatalf("workqueue_depth after the term = %v, want 0", got)
	}
}
