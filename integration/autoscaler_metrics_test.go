package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestAutoscalerCustomMetrics: a Pods metric and an External metric fed by a Load's
// named metrics, under a behavior that adds at most 2 pods per second: the
// replicas climb to 6 in steps of at most 2, and the status shows both current values.
func TestAutoscalerCustomMetrics(t *testing.T) {
	s := startSystem(t, harness.Options{Env: hpaTestEnv})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.postJSON(deployPath, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"},
		"spec": map[string]any{"replicas": 1, "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "nginx"}}}}}}), http.StatusCreated, "deployment")
	a.expect(a.postJSON(hpaPath, map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": map[string]any{"name": "web"},
		"spec": map[string]any{"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 8,
			"metrics": []any{
				map[string]any{"type": "Pods", "pods": map[string]any{"metric": map[string]any{"name": "qps"},
					"target": map[string]any{"type": "AverageValue", "averageValue": "10"}}},
				map[string]any{"type": "External", "external": map[string]any{"metric": map[string]any{"name": "queue", "selector": map[string]any{"matchLabels": map[string]any{"queue": "jobs"}}},
					"target": map[string]any{"type": "AverageValue", "averageValue": "100"}}},
			},
			"behavior": map[string]any{"scaleUp": map[string]any{"policies": []any{map[string]any{"type": "Pods", "value": 2, "periodSeconds": 1}}}}}}),
		http.StatusCreated, "hpa")
	h := a.mustGet(hpaPath + "/web")
	if up := path(h, "spec", "behavior", "scaleUp"); num(path(up, "stabilizationWindowSeconds")) != 0 || str(path(up, "selectPolicy")) != "Max" {
		t.Fatalf("behavior defaults: %s", mustJSON(path(h, "spec", "behavior")))
	}
	// 60 qps over the ready pods (target 10 each -> 6), 200 queued jobs (100 per pod -> 2).
	a.expect(a.postJSON(loadPath, map[string]any{"apiVersion": "sim.podwarden.io/v1", "kind": "Load",
		"metadata": map[string]any{"name": "traffic", "labels": map[string]any{"queue": "jobs"}},
		"spec":     map[string]any{"selector": "app=web", "metrics": map[string]any{"qps": "60", "queue": "200"}}}), http.StatusCreated, "load")
	steps := []int{1}
	eventually(t, 60*time.Second, "6 replicas", func() (bool, string) {
		spec, ready := deploymentReplicas(a, "web")
		if spec != steps[len(steps)-1] {
			steps = append(steps, spec)
		}
		return spec == 6 && ready == 6, fmt.Sprintf("spec %d ready %d", spec, ready)
	})
	for i := 1; i < len(steps); i++ {
		if steps[i]-steps[i-1] > 2 {
			t.Fatalf("replica steps %v: the policy allows at most 2 more pods per second", steps)
		}
	}
	eventually(t, 20*time.Second, "current metrics", func() (bool, string) {
		h := a.mustGet(hpaPath + "/web")
		ms, _ := path(h, "status", "currentMetrics").([]any)
		ok := len(ms) == 2 && str(path(ms[0], "pods", "current", "averageValue")) == "10" && str(path(ms[1], "external", "current", "averageValue")) != ""
		return ok, string(mustJSON(path(h, "status")))
	})
}
