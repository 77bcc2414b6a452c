package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/testenv"
)

// TestPodStatusWritesAndHostPorts: what test suites do to pods. A status written
// through the API (`kubectl patch --subresource=status`, PUT pods/{name}/status) is
// kept: the simulated kubelet does not start a pod marked Failed, and a
// ReplicaSet replaces its pod marked Failed. The scheduler keeps two pods
// wanting one hostPort off a node (NodePorts). Server-side dry runs of Pods and
// Nodes store nothing.
func TestPodStatusWritesAndHostPorts(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	phase := func(pod string) string { return k.run("get", "pod", pod, "-o", "jsonpath={.status.phase}") }

	t.Run("a bare pod marked Failed stays Failed", func(t *testing.T) {
		k.run("run", "marked", "--image=nginx")
		wantLines(t, k.run("patch", "pod", "marked", "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Failed","reason":"Marked"}}`), "patched")
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if got := phase("marked"); got != "Failed" {
				t.Fatalf("phase %q after the status write, want Failed kept", got)
			}
		}
		wantLines(t, k.run("get", "pod", "marked"), "Marked")
	})

	t.Run("a ReplicaSet replaces its pod marked Failed", func(t *testing.T) {
		k.run("create", "deployment", "web", "--image=nginx")
		k.run("rollout", "status", "deployment/web", "--timeout=60s")
		first := strings.TrimPrefix(strings.TrimSpace(k.run("get", "pods", "-l", "app=web", "-o", "name")), "pod/")
		k.run("patch", "pod", first, "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Failed"}}`)
		testenv.Eventually(t, 60*time.Second, "a replacement Running", func() bool {
			out := k.run("get", "pods", "-l", "app=web", "--field-selector=status.phase=Running", "-o", "name")
			return out != "" && !strings.Contains(out, first)
		})
	})

	t.Run("hostPort conflicts", func(t *testing.T) {
		manifest := filepath.Join(t.TempDir(), "hostport.yaml")
		if err := os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: hp}
spec:
  replicas: 3
  selector: {matchLabels: {app: hp}}
  template:
    metadata: {labels: {app: hp}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 80, hostPort: 8080}]
`), 0o600); err != nil {
			t.Fatal(err)
		}
		k.run("apply", "-f", manifest)
		testenv.Eventually(t, 60*time.Second, "two pods Running on two nodes, one Pending", func() bool {
			running := k.run("get", "pods", "-l", "app=hp", "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].spec.nodeName}")
			pending := k.run("get", "pods", "-l", "app=hp", "--field-selector=status.phase=Pending", "-o", "name")
			nodes := strings.Fields(running)
			return len(nodes) == 2 && nodes[0] != nodes[1] && len(strings.Fields(pending)) == 1
		})
		testenv.Eventually(t, 30*time.Second, "the FailedScheduling event", func() bool {
			return strings.Contains(k.run("get", "events", "--field-selector=reason=FailedScheduling"), "didn't have free ports for the requested pod ports")
		})
	})

	t.Run("server-side dry runs store nothing", func(t *testing.T) {
		wantLines(t, k.run("label", "node", "node-1", "dry=run", "--dry-run=server"), "labeled (server dry run)")
		if got := k.run("get", "node", "node-1", "-o", "jsonpath={.metadata.labels.dry}"); got != "" {
			t.Fatalf("a dry-run label was stored: %q", got)
		}
		wantLines(t, k.run("run", "dry", "--image=nginx", "--dry-run=server", "-o", "jsonpath={.spec.restartPolicy}"), "Always")
		wantLines(t, k.run("get", "pods", "--ignore-not-found", "dry", "-o", "name")) // nothing
		if out := k.run("get", "pods", "--ignore-not-found", "dry", "-o", "name"); out != "" {
			t.Fatalf("a dry-run pod was stored: %q", out)
		}
		wantLines(t, k.run("patch", "pod", "marked", "--subresource=status", "--type=merge", "-p", `{"status":{"reason":"Dry"}}`, "--dry-run=server"), "patched")
		if got := k.run("get", "pod", "marked", "-o", "jsonpath={.status.reason}"); got != "Marked" {
			t.Fatalf("a dry-run status write was stored: reason %q", got)
		}
	})
}
