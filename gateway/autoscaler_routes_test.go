package gateway

import (
	"encoding/json"
	"testing"
	"time"
)

func TestHPATable(t *testing.T) {
	var v2, v1 map[string]any
	_ = json.Unmarshal([]byte(`{"kind":"HorizontalPodAutoscaler","metadata":{"name":"hpa-nginx"},
		"spec":{"scaleTargetRef":{"kind":"Deployment","name":"hpa-nginx"},"minReplicas":1,"maxReplicas":10,
		"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":10}}},
		           {"type":"Pods","pods":{"metric":{"name":"qps"},"target":{"type":"AverageValue","averageValue":"1k"}}}]},
		"status":{"currentReplicas":10,"currentMetrics":[{"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":60,"averageValue":"6m"}}}]}}`), &v2)
	_ = json.Unmarshal([]byte(`{"kind":"HorizontalPodAutoscaler","metadata":{"name":"v1"},
		"spec":{"scaleTargetRef":{"kind":"Deployment","name":"x"},"maxReplicas":10,"targetCPUUtilizationPercentage":10},"status":{}}`), &v1)
	cases := map[string]struct {
		obj  map[string]any
		want []any
	}{
		"v2":         {obj: v2, want: []any{"hpa-nginx", "Deployment/hpa-nginx", "cpu: 60%/10%, qps: <unknown>/1k (avg)", "1", 10, 10}},
		"v1 unknown": {obj: v1, want: []any{"v1", "Deployment/x", "cpu: <unknown>/10%", "<unset>", 10, 0}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tab := toTable(tc.obj, time.Now())
			cells := tab.Rows[0].Cells
			for i, w := range tc.want {
				if cells[i] != w {
					t.Fatalf("cell %d = %v, want %v (%v)", i, cells[i], w, cells)
				}
			}
		})
	}
}

func TestDiscoveryMergesAutoscalingVersions(t *testing.T) {
	var d discovery
	d.add(autoscalerResources...)
	d.add(deploymentResources...)
	groups := d.groups()
	if len(groups) != 2 || groups[1].Name != "autoscaling" {
		t.Fatalf("groups %+v", groups)
	}
	as := groups[1]
	if len(as.Versions) != 2 || as.Versions[0].Version != "v2" || as.Versions[1].Version != "v1" || as.PreferredVersion.Version != "v2" {
		t.Fatalf("autoscaling versions %+v", as)
	}
}
