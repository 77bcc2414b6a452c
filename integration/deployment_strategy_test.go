package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestRecreateNeverMixesVersions: with strategy Recreate every old pod is gone
// before the first new one exists.
func TestRecreateNeverMixesVersions(t *testing.T) {
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_SIM_TERMINATION_DELAY=300ms"}})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", readManifest(t, "deployment-recreate.yaml")), http.StatusCreated, "create")
	rolledOut(t, a, "api", 3)
	a.expect(a.mergePatch(deploymentsPath+"/api", `{"spec":{"template":{"spec":{"containers":[{"name":"api","image":"example/api:2.0"}]}}}}`), http.StatusOK, "update")
	deadline := time.Now().Add(60 * time.Second)
	sawTerminating := false
	for {
		pods := podsOf(t, a, "app=api")
		imgs := map[string]int{}
		for _, p := range pods {
			imgs[podImages([]map[string]any{p})[0]]++
			if path(p, "metadata", "deletionTimestamp") != nil {
				sawTerminating = true
			}
		}
		if len(imgs) > 1 {
			t.Fatalf("old and new pods at once: %v", imgs)
		}
		if imgs["example/api:2.0"] == 3 && len(pods) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recreate did not finish: %v", imgs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !sawTerminating {
		t.Log("never observed a terminating pod (termination was faster than the poll)")
	}
	rolledOut(t, a, "api", 3)
}

// TestProgressDeadlineExceeded: pods that never become ready make the Deployment
// report Progressing=False/ProgressDeadlineExceeded, and rollout status says so.
func TestProgressDeadlineExceeded(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	manifest := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"stuck"},"spec":{"replicas":2,"progressDeadlineSeconds":2,
	  "selector":{"matchLabels":{"app":"stuck"}},"template":{"metadata":{"labels":{"app":"stuck"}},"spec":{"containers":[{"name":"c","image":"nginx",
	  "readinessProbe":{"httpGet":{"path":"/","port":80},"initialDelaySeconds":3600}}]}}}}`
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/json", []byte(manifest)), http.StatusCreated, "create")
	eventually(t, 30*time.Second, "ProgressDeadlineExceeded", func() (bool, string) {
		d := a.mustGet(deploymentsPath + "/stuck")
		for _, c := range asList(path(d, "status", "conditions")) {
			if str(path(c, "type")) == "Progressing" {
				return str(path(c, "status")) == "False" && str(path(c, "reason")) == "ProgressDeadlineExceeded", fmt.Sprint(c)
			}
		}
		return false, "no Progressing condition"
	})
	r := a.get(deploymentsPath + "/stuck/rolloutstatus")
	if r.Code == http.StatusOK || !strings.Contains(string(r.Body), `deployment \"stuck\" exceeded its progress deadline`) {
		t.Fatalf("rollout status: %d %s", r.Code, r.Body)
	}
}
