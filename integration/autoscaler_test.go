package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

const (
	hpaPath    = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
	hpaV1Path  = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
	loadPath   = "/apis/sim.podwarden.io/v1/namespaces/default/loads"
	deployPath = "/apis/apps/v1/namespaces/default/deployments"
)

// The controller flags shortened for tests: a 300 ms sync period, a 4 s scale-down
// window, and readiness rules that let new instant pods count after a second.
var hpaTestEnv = []string{
	"PODWARDEN_HPA_SYNC_PERIOD=300ms",
	"PODWARDEN_HPA_DOWNSCALE_STABILIZATION=4s",
	"PODWARDEN_HPA_CPU_INITIALIZATION_PERIOD=1s",
	"PODWARDEN_HPA_INITIAL_READINESS_DELAY=1s",
}

// hpaCollection is where a manifest document of the autoscaler's kinds is POSTed.
func hpaCollection(doc []byte) string {
	if strings.Contains(string(doc), "apiVersion: autoscaling/v1") {
		return hpaV1Path
	}
	if strings.Contains(string(doc), "kind: HorizontalPodAutoscaler") {
		return hpaPath
	}
	return collectionPath(doc)
}

func applyManifest(t *testing.T, a api, file string) {
	t.Helper()
	for _, doc := range documents(readManifest(t, file)) {
		a.expect(a.do(http.MethodPost, hpaCollection(doc), "application/yaml", doc), http.StatusCreated, file)
	}
}

// hpaLine is `kubectl get hpa`'s TARGETS and REPLICAS: "60%/10% 10".
func hpaLine(h map[string]any) string {
	cur := "<unknown>"
	if ms, ok := path(h, "status", "currentMetrics").([]any); ok && len(ms) > 0 {
		if u := path(ms[0], "resource", "current", "averageUtilization"); u != nil {
			cur = fmt.Sprintf("%d%%", num(u))
		}
	}
	target := "?"
	if ms, ok := path(h, "spec", "metrics").([]any); ok && len(ms) > 0 {
		target = fmt.Sprintf("%d%%", num(path(ms[0], "resource", "target", "averageUtilization")))
	}
	return fmt.Sprintf("%s/%s %d", cur, target, num(path(h, "status", "currentReplicas")))
}

func condition(h map[string]any, typ string) map[string]any {
	conds, _ := path(h, "status", "conditions").([]any)
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

func deploymentReplicas(a api, name string) (spec, ready int) {
	d := a.mustGet(deployPath + "/" + name)
	return num(path(d, "spec", "replicas")), num(path(d, "status", "readyReplicas"))
}

// TestAutoscalerUserStory is the tutorial's HPA chapter with hpa-nginx.yaml: 0%/10%
// at one replica, `kubectl top`, a Load on app=hpa-nginx drives it to 10 replicas,
// removing it brings it back to 1 after the scale-down window -- and an autoscaler
// killed and restarted inside that window does not scale down early (no flapping).
func TestAutoscalerUserStory(t *testing.T) {
	s := startSystem(t, harness.Options{Env: hpaTestEnv})
	a := api{t: t, base: s.GatewayURL}
	applyManifest(t, a, "hpa-nginx.yaml")

	eventually(t, 30*time.Second, "0%/10% at 1 replica", func() (bool, string) {
		h := a.mustGet(hpaPath + "/hpa-nginx")
		line := hpaLine(h)
		return line == "0%/10% 1" && str(path(condition(h, "ScalingActive"), "reason")) == "ValidMetricFound", line + " " + string(mustJSON(path(h, "status")))
	})
	// kubectl top pods / nodes.
	pm := items(a.mustGet("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dhpa-nginx"))
	if len(pm) != 1 || path(pm[0], "containers") == nil {
		t.Fatalf("pod metrics: %s", mustJSON(pm))
	}
	if nm := items(a.mustGet("/apis/metrics.k8s.io/v1beta1/nodes")); len(nm) != 3 || path(nm[0], "usage", "cpu") == nil {
		t.Fatalf("node metrics: %s", mustJSON(nm))
	}

	// The load generator: 58m in total over the ready pods behind app=hpa-nginx.
	a.expect(a.postJSON(loadPath, map[string]any{"apiVersion": "sim.podwarden.io/v1", "kind": "Load",
		"metadata": map[string]any{"name": "load-generator"}, "spec": map[string]any{"selector": "app=hpa-nginx", "cpu": "58m"}}),
		http.StatusCreated, "create load")
	seen := map[int]bool{}
	eventually(t, 60*time.Second, "10 ready replicas at 60%/10%", func() (bool, string) {
		spec, ready := deploymentReplicas(a, "hpa-nginx")
		seen[spec] = true
		h := a.mustGet(hpaPath + "/hpa-nginx")
		return spec == 10 && ready == 10 && hpaLine(h) == "60%/10% 10", fmt.Sprintf("spec %d ready %d hpa %s", spec, ready, hpaLine(h))
	})
	// No behavior in hpa-nginx.yaml: Kubernetes' legacy rate, at most max(2x, 4) per sync.
	if !seen[1] && len(seen) < 2 || seen[9] {
		t.Logf("replica counts seen while climbing: %v", seen)
	}
	evs := items(a.mustGet("/api/v1/namespaces/default/events?fieldSelector=" + url.QueryEscape("involvedObject.name=hpa-nginx")))
	found := false
	for _, e := range evs {
		if str(e["reason"]) == "SuccessfulRescale" && str(e["message"]) == "New size: 4; reason: cpu resource utilization (percentage of request) above target" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no \"New size: 4; reason: cpu resource utilization (percentage of request) above target\" event: %s", mustJSON(evs))
	}
	h := a.mustGet(hpaPath + "/hpa-nginx")
	if path(h, "status", "lastScaleTime") == nil || num(path(h, "status", "desiredReplicas")) != 10 || num(path(h, "status", "observedGeneration")) != 1 {
		t.Fatalf("status: %s", mustJSON(path(h, "status")))
	}
	if c := condition(h, "ScalingLimited"); str(c["reason"]) != "TooManyReplicas" || str(c["status"]) != "True" {
		t.Fatalf("ScalingLimited: %s", mustJSON(c))
	}

	// Remove the load, and kill the autoscaler inside the scale-down window.
	a.expect(a.do(http.MethodDelete, loadPath+"/load-generator", "", nil), http.StatusOK, "delete load")
	removed := time.Now()
	s.Kill("autoscaler")
	if _, err := s.StartService("autoscaler", 0); err != nil {
		t.Fatal(err)
	}
	var downAt time.Duration
	eventually(t, 60*time.Second, "back to 1 replica", func() (bool, string) {
		spec, ready := deploymentReplicas(a, "hpa-nginx")
		if spec < 10 && downAt == 0 {
			downAt = time.Since(removed)
		}
		return spec == 1 && ready == 1, fmt.Sprintf("spec %d ready %d", spec, ready)
	})
	// The recommendations of the loaded period (persisted) hold 10 replicas for the
	// 4 s window even across the restart.
	if downAt < 3*time.Second {
		t.Fatalf("scaled down %v after the load was removed, inside the 4s stabilization window", downAt)
	}
	eventually(t, 10*time.Second, "0%/10% at 1 replica again", func() (bool, string) {
		line := hpaLine(a.mustGet(hpaPath + "/hpa-nginx"))
		return line == "0%/10% 1", line
	})
}

// TestAutoscalerAPI: autoscaling/v1 (hpa-v1.yaml) by conversion, the bad input of the
// issue rejected naming the field, and the conditions of a missing target and of
// pods without a cpu request.
func TestAutoscalerAPI(t *testing.T) {
	s := startSystem(t, harness.Options{Env: hpaTestEnv})
	a := api{t: t, base: s.GatewayURL}

	// kubectl autoscale deployment hpa-nginx --cpu-percent=10 --min=1 --max=10
	v1 := a.expect(a.do(http.MethodPost, hpaV1Path, "application/yaml", readManifest(t, "hpa-v1.yaml")), http.StatusCreated, "hpa-v1.yaml")
	if str(v1["apiVersion"]) != "autoscaling/v1" || num(path(v1, "spec", "targetCPUUtilizationPercentage")) != 10 {
		t.Fatalf("v1 answer: %s", mustJSON(v1))
	}
	v2 := a.mustGet(hpaPath + "/hpa-nginx-v1")
	if ms, _ := path(v2, "spec", "metrics").([]any); len(ms) != 1 || num(path(ms[0], "resource", "target", "averageUtilization")) != 10 {
		t.Fatalf("v2 view of the v1 object: %s", mustJSON(v2))
	}
	// No target yet: AbleToScale=False FailedGetScale, not a crash.
	eventually(t, 20*time.Second, "FailedGetScale", func() (bool, string) {
		c := condition(a.mustGet(hpaPath+"/hpa-nginx-v1"), "AbleToScale")
		return str(c["reason"]) == "FailedGetScale" && str(c["status"]) == "False", string(mustJSON(c))
	})
	if l := items(a.mustGet(hpaV1Path)); len(l) != 1 || str(l[0]["apiVersion"]) != "autoscaling/v1" {
		t.Fatalf("v1 list: %s", mustJSON(l))
	}

	// Pods without a cpu request.
	a.expect(a.postJSON(deployPath, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "norequest"},
		"spec": map[string]any{"replicas": 1, "selector": map[string]any{"matchLabels": map[string]any{"app": "norequest"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "norequest"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "nginx", "image": "nginx"}}}}}}), http.StatusCreated, "deployment")
	a.expect(a.postJSON(hpaPath, map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": map[string]any{"name": "norequest"},
		"spec": map[string]any{"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "norequest"}, "maxReplicas": 3}}),
		http.StatusCreated, "hpa")
	eventually(t, 30*time.Second, "missing request for cpu", func() (bool, string) {
		h := a.mustGet(hpaPath + "/norequest")
		c := condition(h, "ScalingActive")
		return str(c["status"]) == "False" && str(c["reason"]) == "FailedGetResourceMetric" && strings.Contains(str(c["message"]), "missing request for cpu"),
			string(mustJSON(path(h, "status")))
	})
	// Defaults: minReplicas 1, cpu at 80%.
	h := a.mustGet(hpaPath + "/norequest")
	if num(path(h, "spec", "minReplicas")) != 1 || !strings.Contains(string(mustJSON(path(h, "spec", "metrics"))), `"averageUtilization":80`) {
		t.Fatalf("defaults: %s", mustJSON(path(h, "spec")))
	}

	bad := func(spec string) []byte {
		return []byte(`{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"bad"},"spec":` + spec + `}`)
	}
	ref := `"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"x"}`
	cases := map[string]struct {
		body  []byte
		field string
	}{
		"daemonset target (manifest)": {body: readManifest(t, "invalid/hpa-daemonset-target.yaml"), field: "spec.scaleTargetRef.kind"},
		"max below min":               {body: bad(`{` + ref + `,"minReplicas":5,"maxReplicas":2}`), field: "spec.maxReplicas"},
		"min zero":                    {body: bad(`{` + ref + `,"minReplicas":0,"maxReplicas":2}`), field: "spec.minReplicas"},
		"utilization zero": {body: bad(`{` + ref + `,"maxReplicas":2,"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":0}}}]}`),
			field: "spec.metrics[0].resource.target.averageUtilization"},
		"unknown metric type": {body: bad(`{` + ref + `,"maxReplicas":2,"metrics":[{"type":"Magic"}]}`), field: "spec.metrics[0].type"},
		"window 4000": {body: bad(`{` + ref + `,"maxReplicas":2,"behavior":{"scaleDown":{"stabilizationWindowSeconds":4000}}}`),
			field: "spec.behavior.scaleDown.stabilizationWindowSeconds"},
		"period 2000": {body: bad(`{` + ref + `,"maxReplicas":2,"behavior":{"scaleUp":{"policies":[{"type":"Pods","value":1,"periodSeconds":2000}]}}}`),
			field: "spec.behavior.scaleUp.policies[0].periodSeconds"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a := api{t: t, base: a.base}
			ct := "application/json"
			if tc.body[0] != '{' {
				ct = "application/yaml"
			}
			st := a.expect(a.do(http.MethodPost, hpaPath, ct, tc.body), http.StatusUnprocessableEntity, name)
			if str(st["reason"]) != "Invalid" || !strings.Contains(str(st["message"]), tc.field) {
				t.Fatalf("Status does not name %s: %s", tc.field, mustJSON(st))
			}
		})
	}
	if l := items(a.mustGet(hpaPath)); len(l) != 2 {
		t.Fatalf("rejected objects were stored: %d autoscalers", len(l))
	}
}
