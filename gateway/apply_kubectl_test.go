package gateway

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runKubectl runs the real kubectl against e (skipping the test without one).
func runKubectl(t *testing.T, e *testEnv, dir string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	cmd := exec.Command(bin, append([]string{"--server", e.srv.URL, "--cache-dir", filepath.Join(dir, "cache"), "-n", "default"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "none"))
	out, err := cmd.CombinedOutput()
	t.Logf("$ kubectl %s\n%s", strings.Join(args, " "), out)
	return string(out), err
}

// TestKubectlApplyClientThenServerSide: an object kubectl created with
// client-side apply is taken over by `kubectl apply --server-side`: kubectl
// migrates the kubectl-client-side-apply entry to its own apply entry, as
// against a cluster (kubectl rewrites managedFields with a JSON patch), and the
// client-side manager is gone.
func TestKubectlApplyClientThenServerSide(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	manifest := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(manifest, []byte(webApply("2", "nginx:1.25")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runKubectl(t, e, dir, "apply", "-f", manifest); err != nil || !strings.Contains(out, "deployment.apps/web created") {
		t.Fatalf("client-side apply: %v", err)
	}
	out, err := runKubectl(t, e, dir, "get", "deployment", "web", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
	if err != nil || out != "kubectl-client-side-apply" {
		t.Fatalf("managers after a client-side apply: %q (%v)", out, err)
	}
	if out, err := runKubectl(t, e, dir, "apply", "--server-side", "-f", manifest); err != nil || !strings.Contains(out, "serverside-applied") {
		t.Fatalf("server-side apply: %v", err)
	}
	out, err = runKubectl(t, e, dir, "get", "deployment", "web", "--show-managed-fields", "-o", "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}")
	// kubectl-last-applied is the field manager's record of the last-applied
	// annotation, as on a cluster.
	if err != nil || strings.TrimSpace(out) != "kubectl/Apply kubectl-last-applied/Apply" {
		t.Fatalf("managers after the server-side apply: %q (%v)", out, err)
	}
}
