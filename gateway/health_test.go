package gateway

import (
	"net/http"
	"strings"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestHealthz(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.nodeDown = true })
	for _, p := range []string{"/healthz", "/livez"} {
		r := e.do(http.MethodGet, p, "")
		if r.code != http.StatusOK || string(r.body) != "ok" {
			t.Errorf("%s: %d %q", p, r.code, r.body)
		}
	}
}

func TestReadyz(t *testing.T) {
	t.Run("all serving", func(t *testing.T) {
		e := newEnv(t)
		r := e.do(http.MethodGet, "/readyz", "")
		if r.code != http.StatusOK || string(r.body) != "ok" {
			t.Errorf("%d %q", r.code, r.body)
		}
		r = e.do(http.MethodGet, "/readyz?verbose", "")
		if r.code != http.StatusOK || !strings.Contains(string(r.body), "[+]backend deployment ok\n[+]backend node ok\nreadyz check passed") {
			t.Errorf("verbose: %d %q", r.code, r.body)
		}
	})
	t.Run("backend not serving", func(t *testing.T) {
		e := newEnv(t)
		e.nodeHealth.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
		r := e.do(http.MethodGet, "/readyz", "")
		if r.code != http.StatusServiceUnavailable {
			t.Fatalf("status %d %q", r.code, r.body)
		}
		body := string(r.body)
		if !strings.Contains(body, "[-]backend node failed: status NOT_SERVING") || !strings.Contains(body, "[+]backend deployment ok") ||
			!strings.HasSuffix(body, "readyz check failed") {
			t.Errorf("body %q", body)
		}
	})
	t.Run("backend down", func(t *testing.T) {
		e := newEnv(t, func(c *envConfig) { c.nodeDown = true })
		r := e.do(http.MethodGet, "/readyz", "")
		if r.code != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "[-]backend node failed:") {
			t.Errorf("%d %q", r.code, r.body)
		}
		// Requests to the down backend are 503 Status answers.
		e.do(http.MethodGet, "/api/v1/namespaces/default/pods/x", "").wantStatus(t, http.StatusServiceUnavailable, ReasonServiceUnavailable)
	})
}
