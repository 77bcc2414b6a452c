package bus_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/metrics"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The outbox backlog shows what waits, and drops to zero as the relay publishes it.
func TestRelayCollectorShowsBacklog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := newBus(t)
	db, err := store.Open(ctx, testenv.PostgresDSN(t), testenv.Schema(t, "relaymetrics"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := bus.NewRelay(db, b, slog.Default())
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collector())
	value := func(name string) float64 {
		t.Helper()
		v, err := metrics.Value(reg, name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		for _, id := range []string{"a", "b"} {
			if err := store.Enqueue(ctx, tx, bus.PodCommandSubject("default"), "relay-metrics/"+id, &eventsv1.PodCommand{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := value("podwarden_outbox_pending_messages"); got != 2 {
		t.Fatalf("podwarden_outbox_pending_messages = %v, want 2", got)
	}
	go r.Run(ctx)
	testenv.Eventually(t, 10*time.Second, "backlog published", func() bool {
		return value("podwarden_outbox_pending_messages") == 0 && value("podwarden_outbox_published_total") == 2
	})
}
