package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func validHPA() *autoscalerv1.HorizontalPodAutoscaler {
	h := &autoscalerv1.HorizontalPodAutoscaler{Metadata: &corev1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &autoscalerv1.HorizontalPodAutoscalerSpec{MaxReplicas: 10,
			ScaleTargetRef: &autoscalerv1.CrossVersionObjectReference{ApiVersion: "apps/v1", Kind: "Deployment", Name: "web"}}}
	DefaultHPA(h)
	return h
}

func TestValidateHPA(t *testing.T) {
	cases := map[string]struct {
		mutate func(h *autoscalerv1.HorizontalPodAutoscaler)
		want   string // "field: detail" fragment; "" = valid
	}{
		"valid defaults": {mutate: func(*autoscalerv1.HorizontalPodAutoscaler) {}},
		"daemonset target": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Kind = "DaemonSet" },
			want: `spec.scaleTargetRef.kind: Invalid value: "DaemonSet": a DaemonSet cannot be autoscaled`},
		"unknown kind": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Kind = "Foo" },
			want: "spec.scaleTargetRef.kind"},
		"statefulset target": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Kind = "StatefulSet" }},
		"min zero": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) { h.Spec.MinReplicas = int32p(0) },
			want: "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"},
		"max below min": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) { h.Spec.MinReplicas = int32p(11) },
			want: "spec.maxReplicas: Invalid value: 10: must be greater than or equal to `minReplicas`"},
		"utilization zero": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) {
			h.Spec.Metrics[0].Resource.Target.AverageUtilization = int32p(0)
		}, want: "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"},
		"unknown metric type": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) { h.Spec.Metrics[0].Type = "Magic" },
			want: `spec.metrics[0].type: Unsupported value: "Magic"`},
		"source missing": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) { h.Spec.Metrics[0].Type = "Pods" },
			want: "spec.metrics[0].pods: Required value: must populate information for the given metric source"},
		"pods without averageValue": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []*autoscalerv1.MetricSpec{{Type: "Pods", Pods: &autoscalerv1.PodsMetricSource{
				Metric: &autoscalerv1.MetricIdentifier{Name: "qps"}, Target: &autoscalerv1.MetricTarget{Type: "Value", Value: structpb.NewStringValue("1")}}}}
		}, want: "spec.metrics[0].pods.target.averageValue: Required value"},
		"negative average value": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) {
			h.Spec.Metrics[0].Resource.Target = &autoscalerv1.MetricTarget{Type: "AverageValue", AverageValue: structpb.NewStringValue("-1")}
		}, want: "spec.metrics[0].resource.target.averageValue: Invalid value: \"-1\": must be positive"},
		"window 4000": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) {
			h.Spec.Behavior = &autoscalerv1.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalerv1.HPAScalingRules{StabilizationWindowSeconds: int32p(4000)}}
			DefaultHPA(h)
		}, want: "spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600"},
		"period 1801": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) {
			h.Spec.Behavior = &autoscalerv1.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalerv1.HPAScalingRules{
				Policies: []*autoscalerv1.HPAScalingPolicy{{Type: "Pods", Value: 1, PeriodSeconds: 1801}}}}
			DefaultHPA(h)
		}, want: "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800"},
		"bad select policy": {mutate: func(h *autoscalerv1.HorizontalPodAutoscaler) {
			h.Spec.Behavior = &autoscalerv1.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalerv1.HPAScalingRules{SelectPolicy: "Most"}}
			DefaultHPA(h)
		}, want: `spec.behavior.scaleUp.selectPolicy: Unsupported value: "Most"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := validHPA()
			tc.mutate(h)
			errs := ValidateHPA(h, nil, true)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Fatalf("errors %v, want %q", errs, tc.want)
			}
		})
	}
}

func TestDefaultHPA(t *testing.T) {
	h := &autoscalerv1.HorizontalPodAutoscaler{Spec: &autoscalerv1.HorizontalPodAutoscalerSpec{
		Behavior: &autoscalerv1.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalerv1.HPAScalingRules{StabilizationWindowSeconds: int32p(60)}}}}
	DefaultHPA(h)
	s := h.Spec
	if s.GetMinReplicas() != 1 || s.Metrics[0].GetResource().GetTarget().GetAverageUtilization() != 80 {
		t.Fatalf("defaults %v", s)
	}
	up, down := s.Behavior.ScaleUp, s.Behavior.ScaleDown
	if up.GetStabilizationWindowSeconds() != 0 || up.GetSelectPolicy() != "Max" || len(up.Policies) != 2 ||
		up.Policies[0].GetValue() != 4 || up.Policies[1].GetValue() != 100 || up.Policies[0].GetPeriodSeconds() != 15 {
		t.Fatalf("scaleUp %v", up)
	}
	if down.GetStabilizationWindowSeconds() != 60 || down.GetSelectPolicy() != "Max" || len(down.Policies) != 1 || down.Policies[0].GetType() != "Percent" {
		t.Fatalf("scaleDown %v", down)
	}
}

func TestConversion(t *testing.T) {
	v1 := &autoscalerv1.HorizontalPodAutoscalerV1{ApiVersion: APIVersionV1, Kind: Kind, Metadata: &corev1.ObjectMeta{Name: "x"},
		Spec: &autoscalerv1.HorizontalPodAutoscalerSpecV1{MinReplicas: int32p(1), MaxReplicas: 10, TargetCpuUtilizationPercentage: int32p(10),
			ScaleTargetRef: &autoscalerv1.CrossVersionObjectReference{Kind: "Deployment", Name: "x"}}}
	stored := validHPA()
	stored.Spec.Metrics = append(stored.Spec.Metrics, &autoscalerv1.MetricSpec{Type: "Pods"})
	stored.Spec.Behavior = &autoscalerv1.HorizontalPodAutoscalerBehavior{}
	v2 := ToV2(v1, stored)
	if len(v2.Spec.Metrics) != 2 || v2.Spec.Metrics[0].GetResource().GetTarget().GetAverageUtilization() != 10 || v2.Spec.Metrics[1].GetType() != "Pods" || v2.Spec.Behavior == nil {
		t.Fatalf("v2 %v", v2.Spec)
	}
	v2.Status = &autoscalerv1.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, CurrentMetrics: []*autoscalerv1.MetricStatus{{Type: "Resource",
		Resource: &autoscalerv1.ResourceMetricStatus{Name: "cpu", Current: &autoscalerv1.MetricValueStatus{AverageUtilization: int32p(58)}}}}}
	back := ToV1(v2)
	if back.GetSpec().GetTargetCpuUtilizationPercentage() != 10 || back.GetStatus().GetCurrentCpuUtilizationPercentage() != 58 || back.GetApiVersion() != APIVersionV1 {
		t.Fatalf("v1 %v", back)
	}
	// A cpu metric whose current value is unknown yet (no metrics for the pods).
	v2.Status.CurrentMetrics[0].Resource.Current = nil
	if got := ToV1(v2).GetStatus(); got.CurrentCpuUtilizationPercentage != nil || got.GetCurrentReplicas() != 3 {
		t.Fatalf("v1 status %v", got)
	}
}

// TestToV1WithoutCurrentValue: a cpu metric status not measured yet (no
// current value) converts to autoscaling/v1 without a utilization; it made
// GET of the v1 object panic.
func TestToV1WithoutCurrentValue(t *testing.T) {
	stored := validHPA()
	stored.Status = &autoscalerv1.HorizontalPodAutoscalerStatus{CurrentMetrics: []*autoscalerv1.MetricStatus{{Type: "Resource",
		Resource: &autoscalerv1.ResourceMetricStatus{Name: "cpu"}}}}
	if got := ToV1(stored).GetStatus().CurrentCpuUtilizationPercentage; got != nil {
		t.Fatalf("currentCPUUtilizationPercentage %d, want none", *got)
	}
}
