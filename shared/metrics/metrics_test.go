package metrics_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podwarden/podwarden/shared/metrics"
)

// Two registries in one process hold the same families without a registration
// panic, and Serve answers a scrape that ParseText and Value read back.
func TestServeScrapeAndRead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	regs := []*prometheus.Registry{metrics.NewRegistry(), metrics.NewRegistry()}
	for _, reg := range regs {
		metrics.NewControllers(reg) // the same names on both: no clash
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "widgets_total", Help: "Widgets."}, []string{"color"})
	regs[0].MustRegister(c)
	c.WithLabelValues("blue").Add(3)
	c.WithLabelValues("red").Inc()

	lis, err := metrics.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- metrics.Serve(ctx, lis, regs[0], slog.Default()) }()
	resp, err := http.Get("http://" + lis.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	g, err := metrics.ParseText(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{labels: []string{"color", "blue"}, want: 3},
		{labels: nil, want: 4},
		{labels: []string{"color", "green"}, want: 0},
	} {
		got, err := metrics.Value(g, "widgets_total", tc.labels...)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("widgets_total%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got, _ := metrics.Value(g, "go_goroutines"); got <= 0 {
		t.Errorf("go_goroutines = %v, want the runtime collector's value", got)
	}
	if _, err := metrics.Value(g, "widgets_total", "color"); err == nil {
		t.Error("an odd label list was accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := metrics.Listen(metrics.Off); err == nil {
		t.Error(`Listen("off") succeeded`)
	}
}
