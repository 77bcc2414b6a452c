package leader_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podwarden/podwarden/shared/leader"
	"github.com/podwarden/podwarden/shared/metrics"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
)

func TestCollectorFollowsLeadership(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := store.Open(ctx, testenv.PostgresDSN(t), testenv.Schema(t, "leadermetrics"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := &leader.Elector{DB: db, Name: "widgets-controllers", Identity: "a", TTL: time.Second, Log: slog.Default()}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Collector())
	status := func() float64 {
		v, err := metrics.Value(reg, "leader_election_master_status", "name", "widgets-controllers")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := status(); got != 0 {
		t.Fatalf("status before the campaign = %v, want 0", got)
	}
	termCtx, endTerm := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		e.Run(termCtx, func(ctx context.Context) { <-ctx.Done() })
		close(done)
	}()
	testenv.Eventually(t, 5*time.Second, "status 1 while leading", func() bool { return status() == 1 })
	endTerm()
	<-done
	if got := status(); got != 0 {
		t.Fatalf("status after the term = %v, want 0", got)
	}
}
