package controller_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/testenv"
)

func TestRetriesUntilSuccessAndResyncs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	calls := map[string]int{}
	c := controller.New(controller.Config{
		Name: "t", Workers: 2, Log: slog.Default(), Resync: 50 * time.Millisecond,
		List: func(context.Context) ([]string, error) { return []string{"ns/listed"}, nil },
		Sync: func(ctx context.Context, key string) error {
			mu.Lock()
			defer mu.Unlock()
			calls[key]++
			if key == "ns/flaky" && calls[key] < 3 {
				return errors.New("transient")
			}
			return nil
		},
	})
	c.Enqueue("ns/dropped-before-run") // not leader yet: ignored
	go c.Run(ctx)
	testenv.Eventually(t, 2*time.Second, "queue running", c.Running)
	c.Enqueue("ns/flaky")
	count := func(k string) int { mu.Lock(); defer mu.Unlock(); return calls[k] }
	testenv.Eventually(t, 5*time.Second, "flaky retried to success", func() bool { return count("ns/flaky") >= 3 })
	testenv.Eventually(t, 5*time.Second, "resync lists keys repeatedly", func() bool { return count("ns/listed") >= 3 })
	if count("ns/dropped-before-run") != 0 {
		t.Fatal("key enqueued before Run was processed")
	}
}

// TestBatchTakesTheKeysWaitingTogether: in batch mode the keys that wait while a batch
// runs come in the next batch together (not one call each), each key is in at most one
// running batch, and a key that failed in a batch is retried alone until it succeeds.
// The ten keys are made to wait (both workers busy, the batcher holding a batch for
// them), not merely enqueued: an idle worker would take them as they come, one or a few
// at a time, whenever the scheduler runs the batcher between two enqueues.
func TestBatchTakesTheKeysWaitingTogether(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var batches [][]string
	running := map[string]bool{}
	fails := 2
	release := make(chan struct{})
	c := controller.New(controller.Config{
		Name: "batch", Workers: 2, Log: slog.Default(), MaxBatch: 50,
		SyncBatch: func(ctx context.Context, keys []string) map[string]error {
			mu.Lock()
			for _, k := range keys {
				if running[k] {
					t.Errorf("key %s in two running batches", k)
				}
				running[k] = true
			}
			batches = append(batches, keys)
			mu.Unlock()
			if keys[0] == "ns/first" || keys[0] == "ns/second" {
				<-release // both workers busy: the others pile up meanwhile
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range keys {
				running[k] = false
			}
			for _, k := range keys {
				if k == "ns/k3" && fails > 0 {
					fails--
					return map[string]error{"ns/k3": errors.New("transient")}
				}
			}
			return nil
		},
	})
	go c.Run(ctx)
	testenv.Eventually(t, 2*time.Second, "queue running", c.Running)
	nBatches := func() int { mu.Lock(); defer mu.Unlock(); return len(batches) }
	c.Enqueue("ns/first")
	testenv.Eventually(t, 5*time.Second, "first batch running", func() bool { return nBatches() == 1 })
	c.Enqueue("ns/second")
	testenv.Eventually(t, 5*time.Second, "second batch running", func() bool { return nBatches() == 2 })
	c.Enqueue("ns/third")
	testenv.Eventually(t, 5*time.Second, "the batcher holding the third", func() bool { return c.Len() == 0 })
	for i := range 10 {
		c.Enqueue("ns/k" + string(rune('0'+i)))
	}
	testenv.Eventually(t, 5*time.Second, "the ten waiting", func() bool { return c.Len() == 10 })
	close(release)
	testenv.Eventually(t, 5*time.Second, "k3 retried", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, b := range batches {
			for _, k := range b {
				if k == "ns/k3" {
					n++
				}
			}
		}
		return n == 3 // failed in the batch of ten, failed alone, then done
	})
	mu.Lock()
	defer mu.Unlock()
	for _, b := range batches {
		if b[0] == "ns/k0" && len(b) != 10 {
			t.Fatalf("batches %v, want the ten keys that waited in one", batches)
		}
	}
}
