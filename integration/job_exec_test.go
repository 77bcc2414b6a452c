package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestJobExecRuntime: with the node service's opt-in exec runtime, a Job's
// container really runs `sh -c 'echo hello; exit 3'`: the pod fails with exit
// code 3, its log is the process's output, and the Job fails (backoffLimit 0).
func TestJobExecRuntime(t *testing.T) {
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_RUNTIME=exec", "PODWARDEN_SIM_CRASH_BACKOFF=200ms"}})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.postJSON(jobsPath, map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "real"},
		"spec": map[string]any{"backoffLimit": 0, "template": map[string]any{"spec": map[string]any{"restartPolicy": "Never",
			"containers": []any{map[string]any{"name": "c", "image": "ignored", "command": []string{"sh", "-c", "echo hello; exit 3"}}}}}}}),
		http.StatusCreated, "create real")
	job := waitJobCondition(t, a, "real", "Failed", 30*time.Second)
	if c := jobCondition(job, "Failed"); str(c["reason"]) != "BackoffLimitExceeded" || num(path(job, "status", "failed")) != 1 {
		t.Errorf("real status: %s", mustJSON(path(job, "status")))
	}
	pods := jobPods(a, "real")
	if len(pods) != 1 {
		t.Fatalf("real has %d pods", len(pods))
	}
	cs := asList(path(pods[0], "status", "containerStatuses"))
	if len(cs) != 1 || num(path(cs[0], "state", "terminated", "exitCode")) != 3 {
		t.Errorf("container status: %s", mustJSON(cs))
	}
	if got := string(a.get(podsPath + "/" + str(path(pods[0], "metadata", "name")) + "/log").Body); got != "hello\n" {
		t.Errorf("log = %q, want \"hello\\n\"", got)
	}

	// restartPolicy OnFailure: the process restarts in place (one pod), restarts
	// count against backoffLimit 2, the previous run's log is kept.
	a.expect(a.postJSON(jobsPath, map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "retry"},
		"spec": map[string]any{"backoffLimit": 2, "template": map[string]any{"spec": map[string]any{"restartPolicy": "OnFailure",
			"containers": []any{map[string]any{"name": "c", "image": "ignored", "command": []string{"sh", "-c", "echo attempt; exit 1"}}}}}}}),
		http.StatusCreated, "create retry")
	var retryPod string
	eventually(t, 30*time.Second, "retry restarted twice", func() (bool, string) {
		for _, p := range jobPods(a, "retry") {
			retryPod = str(path(p, "metadata", "name"))
			if cs := asList(path(p, "status", "containerStatuses")); len(cs) == 1 && num(path(cs[0], "restartCount")) >= 1 {
				if r := a.get(podsPath + "/" + retryPod + "/log?previous=true"); r.Code == http.StatusOK && string(r.Body) != "attempt\n" {
					t.Errorf("previous log = %q", r.Body)
				}
			}
		}
		j := a.mustGet(jobsPath + "/retry")
		c := jobCondition(j, "Failed")
		return c != nil && str(c["reason"]) == "BackoffLimitExceeded", string(mustJSON(path(j, "status")))
	})
	if n := len(jobPods(a, "retry")); n > 1 {
		t.Errorf("retry created %d pods, want 1 (restarts in place)", n)
	}

	// Foreground deletion of a Job whose process ignores SIGTERM: the pod and the
	// Job go, and the process group is killed after the grace period (1 s).
	marker := fmt.Sprintf("podwarden-exec-test-%d", time.Now().UnixNano())
	a.expect(a.postJSON(jobsPath, map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "stubborn"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
			"containers": []any{map[string]any{"name": "c", "image": "ignored",
				"command": []string{"sh", "-c", `trap "" TERM; echo up; while true; do sleep 0.1; done # ` + marker}}}}}}}),
		http.StatusCreated, "create stubborn")
	eventually(t, 30*time.Second, "stubborn running", func() (bool, string) {
		return processesWith(marker) > 0, ""
	})
	a.expect(a.do(http.MethodDelete, jobsPath+"/stubborn?propagationPolicy=Foreground", "", nil), http.StatusOK, "delete stubborn")
	eventually(t, 30*time.Second, "stubborn, its pod and its processes gone", func() (bool, string) {
		r := a.get(jobsPath + "/stubborn")
		n, procs := len(jobPods(a, "stubborn")), processesWith(marker)
		return r.Code == http.StatusNotFound && n == 0 && procs == 0, fmt.Sprintf("job %d, pods %d, processes %d", r.Code, n, procs)
	})
}

// processesWith counts the processes whose command line contains s.
func processesWith(s string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, d := range dirs {
		if b, err := os.ReadFile(d); err == nil && bytes.Contains(b, []byte(s)) {
			n++
		}
	}
	return n
}
