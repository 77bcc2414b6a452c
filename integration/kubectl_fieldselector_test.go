package integration

import (
	"testing"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestKubectlFieldSelectors: kubectl's --field-selector gets kube-apiserver's
// answers: a label the kind takes selects (pods by node and phase, jobs by
// status.successful, namespaces by phase), one it does not take is a 400 naming
// it, with the kind's own words, for lists and watches alike.
func TestKubectlFieldSelectors(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	k.run("run", "web", "--image=nginx", "--overrides", `{"spec":{"nodeName":"node-1"}}`)
	wantLines(t, k.run("get", "pods", "--field-selector", "spec.nodeName=node-1,status.phase!=Failed", "-o", "name"), "pod/web")
	if out := k.run("get", "pods", "--field-selector", "spec.nodeName=node-2", "-o", "name"); out != "" {
		t.Errorf("pods on node-2: %q", out)
	}
	wantLines(t, k.run("get", "namespaces", "--field-selector", "status.phase=Active", "-o", "name"), "namespace/default")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "pods", "--field-selector", "spec.nodename=node-1"}, ": field label not supported: spec.nodename"},
		{[]string{"get", "pods", "-w", "--field-selector", "status.phaze=Running"}, ": field label not supported: status.phaze"},
		{[]string{"get", "nodes", "--field-selector", "metadata.namespace=default"}, ": field label not supported: metadata.namespace"},
		{[]string{"get", "deployments", "--field-selector", "status.replicas=1"}, `: "status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		{[]string{"get", "jobs", "--field-selector", "status.failed=0"}, `: field label "status.failed" not supported for batchv1.Job`},
		{[]string{"get", "events", "--field-selector", "message=x"}, ": field label not supported: message"},
	} {
		_, stderr, err := kubectlResult(k, c.args...)
		if err == nil {
			t.Errorf("kubectl %v succeeded", c.args)
			continue
		}
		// kubectl's words around the server's, as against a cluster:
		// Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match
		// label selector "", field selector "spec.nodename=node-1": field label not supported: spec.nodename
		wantLines(t, stderr, "Error from server (BadRequest)", c.want)
	}
}
