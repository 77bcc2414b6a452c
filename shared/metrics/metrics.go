// Package metrics is the Prometheus side every podwarden process shares: a registry
// per service instance (several services may run in one process: all-in-one, tests,
// so nothing is registered globally), the /metrics handler and its small HTTP
// listener, client-go's workqueue metrics, and the per-controller sync metrics.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Off is the address value that disables a metrics listener.
const Off = "off"

// NewRegistry returns a registry with the Go runtime and process collectors, the
// families every Prometheus client exports.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves reg in the Prometheus text (or OpenMetrics) format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})
}

// Listen binds addr for Serve; "" or Off is an error (the caller decides whether
// metrics are on).
func Listen(addr string) (net.Listener, error) {
	if addr == "" || addr == Off {
		return nil, errors.New("no metrics address")
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	return lis, nil
}

// Serve answers GET /metrics from reg on lis until ctx ends; it closes lis.
func Serve(ctx context.Context, lis net.Listener, reg *prometheus.Registry, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics serve: %w", err)
	case <-ctx.Done():
	}
	_ = srv.Close()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics serve: %w", err)
	}
	return nil
}
