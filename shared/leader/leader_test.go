package leader_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podwarden/podwarden/shared/leader"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestOneLeaderAndHandOver(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.PostgresDSN(t), testenv.Schema(t, "leader"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var leading atomic.Int32
	var maxLeading atomic.Int32
	run := func(id string) (context.CancelFunc, *leader.Elector) {
		e := &leader.Elector{DB: db, Name: "controllers", Identity: id, TTL: 800 * time.Millisecond, Log: slog.Default()}
		c, cancel := context.WithCancel(ctx)
		go e.Run(c, func(ctx context.Context) {
			n := leading.Add(1)
			for {
				m := maxLeading.Load()
				if n <= m || maxLeading.CompareAndSwap(m, n) {
					break
				}
			}
			<-ctx.Done()
			leading.Add(-1)
		})
		return cancel, e
	}
	cancelA, a := run("a")
	cancelB, b := run("b")
	defer cancelB()
	testenv.Eventually(t, 5*time.Second, "a leader", func() bool { return a.IsLeader() || b.IsLeader() })
	first, second, stopFirst := a, b, cancelA
	if b.IsLeader() {
		first, second, stopFirst = b, a, cancelB
	}
	// The other one must not lead while the first holds the lease.
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if second.IsLeader() {
			t.Fatal("two leaders")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopFirst()
	testenv.Eventually(t, 5*time.Second, "hand-over", func() bool { return second.IsLeader() && !first.IsLeader() })
	if maxLeading.Load() != 1 {
		t.Fatalf("%d terms overlapped", maxLeading.Load())
	}
	_ = cancelA
}
