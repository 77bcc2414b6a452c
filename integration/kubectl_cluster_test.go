package integration

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/testenv"
)

// TestKubectlAsksTheCluster: what kubectl asks about itself and the cluster is
// answered as a cluster does: `auth can-i` (SelfSubjectAccessReview) and `auth
// whoami` (SelfSubjectReview), `get componentstatuses`, `get nodes -o wide` with
// the node info columns, `events --for` (selects on involvedObject.apiVersion),
// node Leases in kube-node-lease that their kubelets renew (`describe node`),
// `wait --for=condition=Available`, `diff` and server-side dry runs (scale and
// status included) that store nothing, `rollout restart` of a Deployment, a
// StatefulSet and a DaemonSet, and `get -w` of a deleted pod shows it 0/1 Terminating once its containers stop.
func TestKubectlAsksTheCluster(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)

	t.Run("auth can-i", func(t *testing.T) {
		wantLines(t, k.run("auth", "can-i", "create", "deployments"), "yes")
		wantLines(t, k.run("auth", "can-i", "get", "/healthz"), "yes")
		wantLines(t, k.run("auth", "can-i", "--list"), "*.*")
	})
	t.Run("auth whoami", func(t *testing.T) {
		wantLines(t, k.run("auth", "whoami"), "system:anonymous", "system:unauthenticated")
	})
	t.Run("componentstatuses", func(t *testing.T) {
		out := k.run("get", "componentstatuses")
		wantLines(t, out, "NAME", "STATUS", "MESSAGE", "ERROR")
		for _, c := range []string{"deployment", "statefulset", "daemonset", "job", "autoscaler", "node", "core"} {
			if !strings.Contains(out, c+" ") || !strings.Contains(out, "Healthy") {
				t.Fatalf("no healthy %s:\n%s", c, out)
			}
		}
		wantLines(t, k.run("get", "cs", "node", "-o", "jsonpath={.conditions[0].type}={.conditions[0].status}"), "Healthy=True")
	})
	t.Run("nodes -o wide", func(t *testing.T) {
		wantLines(t, k.run("get", "nodes", "-o", "wide"), "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME", "containerd://")
	})
	t.Run("node leases", func(t *testing.T) {
		wantLines(t, k.run("describe", "node", "node-1"), "HolderIdentity:  node-1", "RenewTime:")
		wantLines(t, k.run("get", "leases", "-n", "kube-node-lease"), "node-1", "node-2", "control-plane")
		renewTime := func() string {
			return k.run("get", "lease", "-n", "kube-node-lease", "node-1", "-o", "jsonpath={.spec.renewTime}")
		}
		first := renewTime()
		testenv.Eventually(t, 30*time.Second, "the kubelet renews its Lease", func() bool { return renewTime() != first })
	})

	wantLines(t, k.run("create", "deployment", "web", "--image=nginx"), "deployment.apps/web created")
	k.run("rollout", "status", "deployment/web", "--timeout=60s")

	t.Run("wait --for=condition=Available", func(t *testing.T) {
		wantLines(t, k.run("wait", "--for=condition=Available", "deployment/web", "--timeout=60s"), "deployment.apps/web condition met")
	})
	t.Run("diff and server dry runs", func(t *testing.T) {
		live := k.run("get", "deployment", "web", "-o", "yaml")
		changed := filepath.Join(t.TempDir(), "web.yaml")
		if err := os.WriteFile(changed, []byte(strings.Replace(live, "replicas: 1", "replicas: 3", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := k.exitCode("diff", "-f", changed)
		if code != 1 || !strings.Contains(out, "-  replicas: 1") || !strings.Contains(out, "+  replicas: 3") {
			t.Fatalf("kubectl diff: exit %d, want 1 with the replicas change:\n%s", code, out)
		}
		wantLines(t, k.run("scale", "deployment/web", "--replicas=4", "--dry-run=server"), "scaled (server dry run)")
		k.run("patch", "deployment/web", "--subresource=status", "--type=merge", "-p", `{"status":{"replicas":9}}`, "--dry-run=server")
		if got := k.run("get", "deployment", "web", "-o", "jsonpath={.spec.replicas} {.status.replicas}"); got != "1 1" {
			t.Fatalf("dry runs were stored: replicas %q", got)
		}
		if _, code := k.exitCode("diff", "-f", writeTemp(t, live)); code != 0 {
			t.Fatalf("kubectl diff of the live object: exit %d, want 0", code)
		}
	})
	t.Run("rollout restart", func(t *testing.T) {
		k.run("apply", "-f", "testdata/manifests/statefulset-web.yaml")
		k.run("apply", "-f", "testdata/manifests/daemonset-tolerations.yaml")
		for _, w := range []string{"deployment/web", "statefulset/web", "daemonset/daemonset-nginx"} {
			k.run("rollout", "status", w, "--timeout=90s")
			wantLines(t, k.run("rollout", "restart", w), "restarted")
			if k.run("get", w, "-o", "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}") == "" {
				t.Fatalf("%s: no restartedAt annotation", w)
			}
			if out := k.run("rollout", "status", w, "--timeout=90s"); !strings.Contains(out, "rolled out") && !strings.Contains(out, "roll out complete") {
				t.Fatalf("%s: rollout status %q", w, out)
			}
			if revs := historyRevisions(k.run("rollout", "history", w)); len(revs) < 2 {
				t.Fatalf("%s: history %v, want a new revision", w, revs)
			}
		}
	})
	t.Run("events --for", func(t *testing.T) {
		testenv.Eventually(t, 30*time.Second, "the Deployment's events", func() bool {
			return strings.Contains(k.run("events", "--for", "deployment/web"), "Scaled up replica set web-")
		})
	})
	t.Run("get -w of a deleted pod", func(t *testing.T) {
		pod := strings.Fields(k.run("get", "pods", "-l", "app=web", "--field-selector=status.phase=Running", "-o", "name"))[0]
		w := k.start(t, "get", pod, "-w", "--output-watch-events")
		testenv.Eventually(t, 30*time.Second, "the watch's first row", func() bool { return strings.Contains(w.output(), "ADDED") })
		k.run("delete", pod, "--wait=false")
		testenv.Eventually(t, 30*time.Second, "the stopped pod, Terminating", func() bool {
			for _, line := range strings.Split(w.output(), "\n") {
				if f := strings.Fields(line); len(f) >= 4 && f[0] == "MODIFIED" && f[2] == "0/1" && f[3] == "Terminating" {
					return true
				}
			}
			return false
		})
	})
}

// exitCode runs kubectl and returns its output and exit code (`kubectl diff`
// exits 1 when it found differences).
func (k kubectl) exitCode(args ...string) (string, int) {
	k.t.Helper()
	cmd := exec.Command(k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "--request-timeout", "30s"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	out, err := cmd.CombinedOutput()
	k.t.Logf("$ kubectl %s\n%s", strings.Join(args, " "), out)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		k.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return string(out), 0
}

// background is a kubectl left running (a watch), its output read as it comes.
type background struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *background) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs kubectl in the background until the test ends.
func (k kubectl) start(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	out := &background{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		t.Logf("$ kubectl %s\n%s", strings.Join(args, " "), out.output())
	})
	return out
}
