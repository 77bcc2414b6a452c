package reconcile

import (
	"errors"
	"strings"
	"testing"
	"time"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

func TestDecide(t *testing.T) {
	cpu := func(r int32) MetricResult {
		return MetricResult{Replicas: r, Name: "cpu resource utilization (percentage of request)", Status: &autoscalerv1.MetricStatus{Type: "Resource"}}
	}
	failed := MetricResult{Err: errors.New("failed to get cpu utilization: missing request for cpu in container nginx of Pod p"), FailReason: "FailedGetResourceMetric"}
	cases := map[string]struct {
		spec       int32
		min, max   int32
		metrics    []MetricResult
		want       int32
		rescale    bool
		reason     string
		wantActive string // ScalingActive reason
		wantErr    bool
	}{
		"scale up names the metric": {spec: 1, min: 1, max: 10, metrics: []MetricResult{cpu(4)}, want: 4, rescale: true,
			reason: "cpu resource utilization (percentage of request) above target", wantActive: "ValidMetricFound"},
		"several metrics: the max": {spec: 2, min: 1, max: 10, metrics: []MetricResult{cpu(3), {Replicas: 4, Name: "pods metric qps", Status: &autoscalerv1.MetricStatus{}}}, want: 4,
			rescale: true, reason: "pods metric qps above target", wantActive: "ValidMetricFound"},
		"scale down":                     {spec: 4, min: 1, max: 10, metrics: []MetricResult{cpu(2)}, want: 2, rescale: true, reason: "All metrics below target", wantActive: "ValidMetricFound"},
		"unchanged":                      {spec: 3, min: 1, max: 10, metrics: []MetricResult{cpu(3)}, want: 3, wantActive: "ValidMetricFound"},
		"zero replicas disables scaling": {spec: 0, min: 1, max: 10, metrics: []MetricResult{cpu(3)}, want: 0, wantActive: "ScalingDisabled"},
		"above max":                      {spec: 12, min: 1, max: 10, want: 10, rescale: true, reason: "Current number of replicas above Spec.MaxReplicas"},
		"below min":                      {spec: 1, min: 2, max: 10, want: 2, rescale: true, reason: "Current number of replicas below Spec.MinReplicas"},
		"missing request: no scale":      {spec: 1, min: 1, max: 10, metrics: []MetricResult{failed}, want: 1, wantActive: "FailedGetResourceMetric", wantErr: true},
		"one failed, other scales up":    {spec: 1, min: 1, max: 10, metrics: []MetricResult{failed, cpu(3)}, want: 3, rescale: true, reason: "cpu resource utilization (percentage of request) above target", wantActive: "ValidMetricFound"},
		"one failed, other scales down":  {spec: 3, min: 1, max: 10, metrics: []MetricResult{failed, cpu(1)}, want: 3, wantActive: "FailedGetResourceMetric", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var h History
			d := Decide(t0, &h, Input{SpecReplicas: tc.spec, MinReplicas: tc.min, MaxReplicas: tc.max, Metrics: tc.metrics,
				Behavior:               &autoscalerv1.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalerv1.HPAScalingRules{StabilizationWindowSeconds: ptr(int32(0))}},
				DownscaleStabilization: time.Minute})
			if d.Desired != tc.want || d.Rescale != tc.rescale || d.Reason != tc.reason || (d.Err != nil) != tc.wantErr {
				t.Fatalf("decision %+v", d)
			}
			active := ""
			for _, c := range d.Conditions {
				if c.Type == ScalingActive {
					active = c.Reason
				}
			}
			if active != tc.wantActive {
				t.Fatalf("ScalingActive %q, want %q", active, tc.wantActive)
			}
			if tc.wantErr && !strings.Contains(d.Err.Error(), "invalid metrics (1 invalid out of") {
				t.Fatalf("err %v", d.Err)
			}
		})
	}
}
