package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestGatewayLimits runs the gateway with a list cap of 2 items and one watch:
// a list of the 3 nodes comes in pages (kubectl follows them and shows all 3),
// and a second watch gets 429 with Retry-After while the first is open.
func TestGatewayLimits(t *testing.T) {
	s := startSystem(t, harness.Options{GatewayEnv: []string{
		"PODWARDEN_GATEWAY_MAX_LIST_ITEMS=2", "PODWARDEN_GATEWAY_MAX_WATCHES=1",
	}})
	a := api{t: t, base: s.GatewayURL}

	page := a.mustGet("/api/v1/nodes")
	if n := len(items(page)); n != 2 || str(path(page, "metadata", "continue")) == "" {
		t.Fatalf("first page: %d nodes, continue %q; want 2 and a continue token", n, path(page, "metadata", "continue"))
	}
	k := newKubectl(t, kubectlBin(t), s.GatewayURL)
	if out := k.run("get", "nodes", "-o", "name"); strings.Count(out, "node/") != 3 {
		t.Fatalf("kubectl get nodes: %q, want the 3 nodes", out)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.GatewayURL+"/api/v1/nodes?watch=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first watch: %d", first.StatusCode)
	}
	second, err := http.Get(s.GatewayURL + "/api/v1/namespaces/default/pods?watch=true")
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != http.StatusTooManyRequests || second.Header.Get("Retry-After") != "1" {
		t.Fatalf("second watch: %d, Retry-After %q; want 429 and 1", second.StatusCode, second.Header.Get("Retry-After"))
	}
}
