package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/testenv"
)

// TestKubectlCreateJob: `kubectl create job` sends the Job in Kubernetes' protobuf
// encoding (kubectl's typed clients do); the Job is created and runs to completion.
func TestKubectlCreateJob(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	wantLines(t, k.run("create", "job", "hello", "--image=busybox", "--", "echo", "hello"), "job.batch/hello created")
	testenv.Eventually(t, 60*time.Second, "job hello complete", func() bool {
		return strings.TrimSpace(k.run("get", "job", "hello", "-o", "jsonpath={.status.succeeded}")) == "1"
	})
	// A Job without labels gets its template's (batch/v1 defaulting), as `kubectl
	// describe job` shows on a cluster.
	uid := k.run("get", "job", "hello", "-o", "jsonpath={.metadata.uid}")
	wantLines(t, k.run("describe", "job", "hello"), "Labels:           batch.kubernetes.io/controller-uid="+uid,
		"batch.kubernetes.io/job-name=hello", "controller-uid="+uid, "job-name=hello")
}
