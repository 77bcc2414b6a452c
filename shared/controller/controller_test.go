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
