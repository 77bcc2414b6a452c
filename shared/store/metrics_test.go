package store_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podwarden/podwarden/shared/metrics"
)

func TestPoolCollectorCountsAcquires(t *testing.T) {
	db := openDB(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(db.PoolCollector())
	value := func(name string) float64 {
		t.Helper()
		v, err := metrics.Value(reg, name, "schema", db.Schema)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := value("pgxpool_acquires_total")
	if _, err := db.Pool.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if after := value("pgxpool_acquires_total"); after != before+1 {
		t.Fatalf("pgxpool_acquires_total went from %v to %v, want +1", before, after)
	}
	if got := value("pgxpool_max_conns"); got != 8 {
		t.Fatalf("pgxpool_max_conns = %v, want 8", got)
	}
	if got := value("pgxpool_total_conns"); got < 1 {
		t.Fatalf("pgxpool_total_conns = %v, want at least the connection just used", got)
	}
}
