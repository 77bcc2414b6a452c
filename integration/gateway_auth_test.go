package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestGatewayTokenAuth runs the gateway command with a token file
// (PODWARDEN_GATEWAY_TOKEN_AUTH_FILE): a request without the token gets 401
// with an Unauthorized Status, /readyz stays open, and one with the token is
// served. (kubectl sends a token over https only: TestKubectlAuthentication in
// the gateway package runs it against a TLS gateway.)
func TestGatewayTokenAuth(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte("e2e-token,alice,uid-alice,\"dev\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSystem(t, harness.Options{GatewayEnv: []string{"PODWARDEN_GATEWAY_TOKEN_AUTH_FILE=" + tokens}})
	a := api{t: t, base: s.GatewayURL}

	st := a.expect(a.get("/api/v1/nodes"), http.StatusUnauthorized, "list nodes without a token")
	if st["kind"] != "Status" || st["reason"] != "Unauthorized" || st["message"] != "Unauthorized" {
		t.Fatalf("401 body: %v", st)
	}
	a.expect(a.get("/readyz"), http.StatusOK, "readyz without a token")

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.GatewayURL+"/api/v1/nodes", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer e2e-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list nodes with the token: %d", resp.StatusCode)
	}
}
