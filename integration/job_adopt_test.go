package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestJobAdoptsOrphanPods: as in Kubernetes (getPodsForJob claims pods), a Job
// adopts the orphan pods its selector matches. A Job with a manual selector is
// deleted with propagationPolicy Orphan, leaving its running pod; a new Job with
// the same selector takes that pod over (the pod's controller is the new Job and
// it counts as active) instead of starting another.
func TestJobAdoptsOrphanPods(t *testing.T) {
	s := startSystem(t, harness.Options{Env: jobEnv})
	a := api{t: t, base: s.GatewayURL}
	job := func(name string) map[string]any {
		return map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"manualSelector": true, "selector": map[string]any{"matchLabels": map[string]any{"app": "worker"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "worker"}},
					"spec": map[string]any{"restartPolicy": "Never",
						"containers": []any{map[string]any{"name": "c", "image": "busybox", "command": []string{"sh", "-c", "sleep 3600"}}}}}}}
	}
	workers := func() []map[string]any { return items(a.mustGet(podsPath + "?labelSelector=app%3Dworker")) }

	a.expect(a.postJSON(jobsPath, job("first")), http.StatusCreated, "create first")
	var pod string
	eventually(t, 30*time.Second, "first's pod running", func() (bool, string) {
		ps := workers()
		if len(ps) != 1 || str(path(ps[0], "status", "phase")) != "Running" {
			return false, string(mustJSON(ps))
		}
		pod = str(path(ps[0], "metadata", "name"))
		return true, ""
	})
	a.expect(a.do(http.MethodDelete, jobsPath+"/first?propagationPolicy=Orphan", "", nil), http.StatusOK, "orphan first")
	eventually(t, 30*time.Second, pod+" orphaned", func() (bool, string) {
		p := a.mustGet(podsPath + "/" + pod)
		return len(asList(path(p, "metadata", "ownerReferences"))) == 0, string(mustJSON(path(p, "metadata")))
	})

	second := a.expect(a.postJSON(jobsPath, job("second")), http.StatusCreated, "create second")
	uid := str(path(second, "metadata", "uid"))
	eventually(t, 30*time.Second, "second adopts "+pod, func() (bool, string) {
		p := a.mustGet(podsPath + "/" + pod)
		for _, r := range asList(path(p, "metadata", "ownerReferences")) {
			if str(path(r, "uid")) == uid && path(r, "controller") == true {
				return true, ""
			}
		}
		return false, string(mustJSON(path(p, "metadata")))
	})
	eventually(t, 30*time.Second, "second counts the adopted pod active", func() (bool, string) {
		j := a.mustGet(jobsPath + "/second")
		return num(path(j, "status", "active")) == 1, string(mustJSON(path(j, "status")))
	})
	if ps := workers(); len(ps) != 1 {
		t.Fatalf("%d worker pods, want the adopted one only: %s", len(ps), mustJSON(ps))
	}
}
