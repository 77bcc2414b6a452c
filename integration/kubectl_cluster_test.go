package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
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
// and `get -w` of a deleted pod shows it 0/1 Terminating once its containers stop.
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

	t.Run("events --for", func(t *testing.T) {
		testenv.Eventually(t, 30*time.Second, "the Deployment's events", func() bool {
			return strings.Contains(k.run("events", "--for", "deployment/web"), "Scaled up replica set web-")
		})
	})
	t.Run("get -w of a deleted pod", func(t *testing.T) {
		pod := strings.TrimSpace(k.run("get", "pods", "-l", "app=web", "-o", "name"))
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
