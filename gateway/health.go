package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthz answers 200 "ok" while the process serves (/healthz, /livez).
func (g *gateway) healthz(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	writeText(w, http.StatusOK, "ok")
}

// readyz answers 200 "ok" when every deployed backend answers its grpc.health.v1
// Check with SERVING, and 503 otherwise, in kube-apiserver's format:
//
//	[+]backend deployment ok
//	[-]backend node failed: rpc error: code = Unavailable desc = ...
//	readyz check failed
//
// ?verbose lists the checks on success too.
func (g *gateway) readyz(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	failures := make([]error, len(g.backends))
	var wg sync.WaitGroup
	for i, b := range g.backends {
		wg.Go(func() { failures[i] = g.checkBackend(r.Context(), b) })
	}
	wg.Wait()

	var lines []string
	ready := true
	for i, b := range g.backends {
		if err := failures[i]; err != nil {
			ready = false
			lines = append(lines, fmt.Sprintf("[-]backend %s failed: %v", b.name, err))
			continue
		}
		lines = append(lines, fmt.Sprintf("[+]backend %s ok", b.name))
	}
	if !ready {
		writeText(w, http.StatusServiceUnavailable, strings.Join(lines, "\n")+"\nreadyz check failed")
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		writeText(w, http.StatusOK, strings.Join(append(lines, "readyz check passed"), "\n"))
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// checkBackend asks b for its overall health ("" service name).
func (g *gateway) checkBackend(ctx context.Context, b namedConn) error {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ReadyTimeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(b.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return errors.New(status.Convert(err).Message())
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("status %s", s)
	}
	return nil
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
