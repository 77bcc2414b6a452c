package server

import (
	"github.com/podwarden/podwarden/services/autoscaler/internal/reconcile"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

func int32p(v int32) *int32 { return &v }

// DefaultHPA applies autoscaling/v2 SetDefaults_HorizontalPodAutoscaler: minReplicas 1,
// no metrics -> cpu at 80% utilization, and a given behavior completed with the
// default rules (the scale-down window stays unset: the controller's window applies).
func DefaultHPA(h *autoscalerv1.HorizontalPodAutoscaler) {
	if h.Spec == nil {
		h.Spec = &autoscalerv1.HorizontalPodAutoscalerSpec{}
	}
	s := h.Spec
	if s.MinReplicas == nil {
		s.MinReplicas = int32p(1)
	}
	if len(s.Metrics) == 0 {
		s.Metrics = []*autoscalerv1.MetricSpec{{Type: "Resource", Resource: &autoscalerv1.ResourceMetricSource{
			Name: "cpu", Target: &autoscalerv1.MetricTarget{Type: "Utilization", AverageUtilization: int32p(80)}}}}
	}
	if s.Behavior != nil {
		s.Behavior.ScaleUp = reconcile.DefaultScaleUpRules(s.Behavior.ScaleUp)
		s.Behavior.ScaleDown = reconcile.DefaultScaleDownRules(s.Behavior.ScaleDown)
	}
}
