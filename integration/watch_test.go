package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestWatchOverREST: `kubectl get deployments -w` — ?watch=true on a list path
// streams Kubernetes watch events, filtered by label selector.
func TestWatchOverREST(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.GatewayURL+deploymentsPath+"?watch=true&labelSelector=app%3Dnginx", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: %d", resp.StatusCode)
	}
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", readManifest(t, "deployment-nginx.yaml")), http.StatusCreated, "create")
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", readManifest(t, "deployment-percent.yaml")), http.StatusCreated, "create other")

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sawAdded := false
	for sc.Scan() {
		var ev struct {
			Type   string         `json:"type"`
			Object map[string]any `json:"object"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not a watch event: %s", sc.Text())
		}
		if name := str(path(ev.Object, "metadata", "name")); name != "nginx-deployment" {
			t.Fatalf("label selector ignored: event about %q: %s", name, sc.Text())
		}
		switch {
		case ev.Type == "ADDED":
			sawAdded = true
		case ev.Type == "MODIFIED" && sawAdded && num(path(ev.Object, "status", "readyReplicas")) == 1:
			return
		}
	}
	t.Fatalf("stream ended before the deployment was ready (added: %v): %v", sawAdded, sc.Err())
}
