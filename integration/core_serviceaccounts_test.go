package integration

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestServiceAccountsWithKubectl: every namespace has a ServiceAccount "default"
// (made again when deleted), and kubectl creates, lists and deletes
// ServiceAccounts with Kubernetes' columns.
func TestServiceAccountsWithKubectl(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	k := newKubectl(t, bin, s.GatewayURL)

	waitFor := func(what, path string, code int) map[string]any {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := a.get(path)
			if r.Code == code {
				return r.JSON()
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: GET %s answers %d: %s", what, path, r.Code, r.Body)
			}
			time.Sleep(100 * time.Millisecond) // poll interval, bounded by the deadline
		}
	}
	for _, ns := range []string{"kube-system", "kube-public", "kube-node-lease"} {
		waitFor("system namespace", "/api/v1/namespaces/"+ns+"/serviceaccounts/default", 200)
	}
	old := waitFor("default namespace", "/api/v1/namespaces/default/serviceaccounts/default", 200)

	// A new namespace gets its default.
	k.within(30*time.Second, "create", "namespace", "team-a")
	waitFor("new namespace", "/api/v1/namespaces/team-a/serviceaccounts/default", 200)

	// The default ServiceAccount comes back when deleted.
	k.within(30*time.Second, "delete", "serviceaccount", "default")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		got := waitFor("recreated", "/api/v1/namespaces/default/serviceaccounts/default", 200)
		if got["metadata"].(map[string]any)["uid"] != old["metadata"].(map[string]any)["uid"] {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the default ServiceAccount was not made again")
		case <-time.After(100 * time.Millisecond):
		}
	}

	k.within(30*time.Second, "create", "serviceaccount", "build-bot")
	out := k.within(30*time.Second, "get", "sa")
	if !regexp.MustCompile(`(?m)^NAME\s+SECRETS\s+AGE$`).MatchString(out) || !regexp.MustCompile(`(?m)^build-bot\s+0\s+\S+$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^default\s+0\s+\S+$`).MatchString(out) {
		t.Fatalf("kubectl get sa:\n%s", out)
	}
	if out := k.within(30*time.Second, "get", "sa", "-A", "-o", "name"); strings.Count(out, "serviceaccount/default") < 5 {
		t.Fatalf("kubectl get sa -A:\n%s", out)
	}
	k.within(30*time.Second, "delete", "sa", "build-bot")
	a.expect(a.get("/api/v1/namespaces/default/serviceaccounts/build-bot"), 404, "deleted serviceaccount")
}
