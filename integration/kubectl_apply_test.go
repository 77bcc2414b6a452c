package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podwarden/podwarden/integration/harness"
)

// kubectlResult runs kubectl and returns its output and error without failing
// the test (for commands expected to fail or to warn).
func kubectlResult(k kubectl, args ...string) (stdout, stderr string, err error) {
	k.t.Helper()
	cmd := exec.Command(k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "--request-timeout", "30s"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	k.t.Logf("$ kubectl %s\n%s%s", strings.Join(args, " "), out.String(), errOut.String())
	return out.String(), errOut.String(), err
}

// applyState prints, per applied object, what a second identical apply must
// leave alone: its generation and who manages which fields (status keeps
// changing; a manifest value the backend stores canonicalized, such as cpu:
// 1000m stored as 1, is applied again and refreshes the entry's time).
const applyState = `jsonpath={.kind}/{.metadata.name}={.metadata.generation}/{.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}/{.metadata.managedFields[*].fieldsV1}{"\n"}`

// TestKubectlServerSideApply: kubectl explain prints the upstream docs;
// kubectl apply --server-side of every tutorial
// manifest creates the objects with kubectl as their field manager; applying
// them again changes nothing (same resourceVersion); a second manager changing
// a field kubectl owns gets kube-apiserver's conflict, and takes it over with
// --force-conflicts.
func TestKubectlServerSideApply(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	wantLines(t, k.run("explain", "statefulset.spec"), "KIND:       StatefulSet", "podManagementPolicy\t<string>", "volumeClaimTemplates\t<[]PersistentVolumeClaim>")
	manifests, err := filepath.Glob("testdata/manifests/*.yaml")
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	versions := map[string]string{}
	for _, m := range manifests {
		out := k.run("apply", "--server-side", "-f", m, "--show-managed-fields", "-o", applyState)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			obj, state, _ := strings.Cut(line, "=")
			versions[obj] = state
		}
	}
	managers := k.run("get", "deployment", "nginx-deployment", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}")
	if managers != "kubectl/Apply" {
		t.Errorf("nginx-deployment managers/operations %q, want kubectl/Apply", managers)
	}
	for _, m := range manifests {
		out := k.run("apply", "--server-side", "-f", m, "--show-managed-fields", "-o", applyState)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			obj, state, _ := strings.Cut(line, "=")
			if versions[obj] != state {
				t.Errorf("applying %s again changed %s: %s -> %s", m, obj, versions[obj], state)
			}
		}
	}

	scaled := filepath.Join(t.TempDir(), "scaled.yaml")
	manifest, err := os.ReadFile("testdata/manifests/deployment-nginx.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scaled, bytes.Replace(manifest, []byte("replicas: 1"), []byte("replicas: 5"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := kubectlResult(k, "apply", "--server-side", "--field-manager=ci", "-f", scaled)
	if err == nil {
		t.Fatalf("a conflicting apply succeeded")
	}
	wantLines(t, stderr, `Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas`, "--force-conflicts")
	if got := k.run("get", "deployment", "nginx-deployment", "-o", "jsonpath={.spec.replicas}"); got != "1" {
		t.Errorf("replicas %s after a refused apply", got)
	}
	wantLines(t, k.run("apply", "--server-side", "--field-manager=ci", "--force-conflicts", "-f", scaled), "deployment.apps/nginx-deployment serverside-applied")
	if got := k.run("get", "deployment", "nginx-deployment", "-o", "jsonpath={.spec.replicas}"); got != "5" {
		t.Errorf("replicas %s after a forced apply", got)
	}
}

// TestKubectlFieldValidation: kubectl finds fieldValidation in the OpenAPI
// v3 document and leaves validation to the server: `kubectl apply
// --validate=strict` of a manifest with an unknown field is refused naming it
// and creates nothing; `kubectl patch` with an unknown field applies the rest
// and prints the server's warning, as against a cluster.
func TestKubectlFieldValidation(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	manifest, err := os.ReadFile("testdata/manifests/deployment-nginx.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, bytes.Replace(manifest, []byte("  replicas: 1\n"), []byte("  replicas: 1\n  replicaz: 2\n"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := kubectlResult(k, "apply", "--validate=strict", "-f", bad)
	if err == nil {
		t.Fatalf("kubectl apply --validate=strict accepted an unknown field")
	}
	wantLines(t, stderr, `unknown field "spec.replicaz"`)
	if out, _, err := kubectlResult(k, "get", "deployment", "nginx-deployment", "--ignore-not-found", "-o", "name"); err != nil || out != "" {
		t.Errorf("a refused manifest created %q (%v)", out, err)
	}

	k.run("apply", "-f", "testdata/manifests/deployment-nginx.yaml")
	out, stderr, err := kubectlResult(k, "patch", "deployment", "nginx-deployment", "-p", `{"metadata":{"labels":{"tier":"web"}},"spec":{"replicaz":2}}`)
	if err != nil {
		t.Fatalf("kubectl patch with an unknown field failed: %v", err)
	}
	wantLines(t, stderr, `Warning: unknown field "spec.replicaz"`)
	wantLines(t, out, "deployment.apps/nginx-deployment patched")
	if got := k.run("get", "deployment", "nginx-deployment", "-o", "jsonpath={.metadata.labels.tier}"); got != "web" {
		t.Errorf("tier label %q after the patch", got)
	}
}

// TestKubectlApplyThenServerSide: an object created by client-side `kubectl
// apply` moves to server-side apply as on a cluster: kubectl migrates the
// kubectl-client-side-apply manager's fields to its Apply manager, so the
// first `kubectl apply --server-side` of the same manifest conflicts with
// nothing (not even on fields stored at their zero value, such as
// minReadySeconds: 0), changes nothing, and leaves kubectl's Apply managers;
// a second manager then conflicts on what kubectl owns and takes it with
// --force-conflicts.
func TestKubectlApplyThenServerSide(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	const manifest = "testdata/manifests/deployment-rolling.yaml"
	wantLines(t, k.run("apply", "-f", manifest), "deployment.apps/nginx created")
	managers := `jsonpath={.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}`
	if got := k.run("get", "deployment", "nginx", "--show-managed-fields", "-o", managers); got != "kubectl-client-side-apply/Update" {
		t.Errorf("managers after kubectl apply: %q, want kubectl-client-side-apply/Update", got)
	}
	generation := k.run("get", "deployment", "nginx", "-o", "jsonpath={.metadata.generation}")
	wantLines(t, k.run("apply", "--server-side", "-f", manifest), "deployment.apps/nginx serverside-applied")
	// kubectl's own steps, as against a cluster: kubectl-last-applied applies the
	// last-applied-configuration annotation alone (kept for a downgrade to
	// client-side apply), and kubectl-client-side-apply's fields are migrated to
	// kubectl's Apply entry.
	if got := k.run("get", "deployment", "nginx", "--show-managed-fields", "-o", managers); got != "kubectl-last-applied kubectl/Apply Apply" {
		t.Errorf("managers after kubectl apply --server-side: %q, want kubectl-last-applied kubectl/Apply Apply", got)
	}
	if got := k.run("get", "deployment", "nginx", "-o", "jsonpath={.metadata.generation}"); got != generation {
		t.Errorf("generation %s after applying the same manifest server-side, was %s", got, generation)
	}
	wantLines(t, k.run("apply", "--server-side", "-f", manifest), "deployment.apps/nginx serverside-applied")

	changed := filepath.Join(t.TempDir(), "changed.yaml")
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(changed, bytes.Replace(b, []byte("minReadySeconds: 0"), []byte("minReadySeconds: 5"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := kubectlResult(k, "apply", "--server-side", "--field-manager=ci", "-f", changed)
	if err == nil {
		t.Fatalf("a conflicting apply succeeded")
	}
	wantLines(t, stderr, `Apply failed with 1 conflict: conflict with "kubectl": .spec.minReadySeconds`)
	wantLines(t, k.run("apply", "--server-side", "--field-manager=ci", "--force-conflicts", "-f", changed), "deployment.apps/nginx serverside-applied")
	if got := k.run("get", "deployment", "nginx", "-o", "jsonpath={.spec.minReadySeconds}"); got != "5" {
		t.Errorf("minReadySeconds %s after a forced apply", got)
	}
}

// TestKubectlScaleRecordsItsManager: `kubectl scale` records kubectl's Update
// entry with subresource scale on the object, owning .spec.replicas, as on a
// cluster, for a Deployment and a StatefulSet (two backends).
func TestKubectlScaleRecordsItsManager(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	k.run("create", "deployment", "web", "--image=nginx")
	k.run("apply", "-f", "testdata/manifests/statefulset-web.yaml")
	const entries = `jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation}/{.subresource}={.fieldsV1}{"\n"}{end}`
	for _, obj := range []string{"deployment/web", "statefulset/web"} {
		wantLines(t, k.run("scale", obj, "--replicas=2"), "scaled")
		wantLines(t, k.run("get", obj, "--show-managed-fields", "-o", entries), `kubectl/Update/scale={"f:spec":{"f:replicas":{}}}`)
	}
}
