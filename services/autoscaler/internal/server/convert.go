package server

import (
	"google.golang.org/protobuf/proto"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

// API versions served.
const (
	APIVersionV2 = "autoscaling/v2"
	APIVersionV1 = "autoscaling/v1"
	Kind         = "HorizontalPodAutoscaler"
)

// ToV2 converts an autoscaling/v1 object to the stored autoscaling/v2 form:
// targetCPUUtilizationPercentage becomes a Resource cpu Utilization metric. stored,
// when given, keeps the v2-only fields v1 cannot express (other metrics, behavior).
func ToV2(in *autoscalerv1.HorizontalPodAutoscalerV1, stored *autoscalerv1.HorizontalPodAutoscaler) *autoscalerv1.HorizontalPodAutoscaler {
	out := &autoscalerv1.HorizontalPodAutoscaler{ApiVersion: APIVersionV2, Kind: Kind, Metadata: in.GetMetadata(),
		Spec: &autoscalerv1.HorizontalPodAutoscalerSpec{}}
	if in.Spec != nil {
		out.Spec.ScaleTargetRef = in.Spec.ScaleTargetRef
		out.Spec.MinReplicas = in.Spec.MinReplicas
		out.Spec.MaxReplicas = in.Spec.MaxReplicas
	}
	if stored != nil {
		out.Spec.Behavior = stored.GetSpec().GetBehavior()
		for _, m := range stored.GetSpec().GetMetrics() {
			if !isCPUUtilization(m) {
				out.Spec.Metrics = append(out.Spec.Metrics, proto.Clone(m).(*autoscalerv1.MetricSpec))
			}
		}
	}
	if in.GetSpec().TargetCpuUtilizationPercentage != nil {
		cpu := &autoscalerv1.MetricSpec{Type: "Resource", Resource: &autoscalerv1.ResourceMetricSource{Name: "cpu",
			Target: &autoscalerv1.MetricTarget{Type: "Utilization", AverageUtilization: int32p(in.GetSpec().GetTargetCpuUtilizationPercentage())}}}
		out.Spec.Metrics = append([]*autoscalerv1.MetricSpec{cpu}, out.Spec.Metrics...)
	}
	return out
}

// ToV1 converts a stored object to autoscaling/v1.
func ToV1(in *autoscalerv1.HorizontalPodAutoscaler) *autoscalerv1.HorizontalPodAutoscalerV1 {
	out := &autoscalerv1.HorizontalPodAutoscalerV1{ApiVersion: APIVersionV1, Kind: Kind, Metadata: in.GetMetadata(),
		Spec: &autoscalerv1.HorizontalPodAutoscalerSpecV1{
			ScaleTargetRef: in.GetSpec().GetScaleTargetRef(), MinReplicas: in.GetSpec().MinReplicas, MaxReplicas: in.GetSpec().GetMaxReplicas(),
		}}
	for _, m := range in.GetSpec().GetMetrics() {
		if isCPUUtilization(m) {
			out.Spec.TargetCpuUtilizationPercentage = int32p(m.GetResource().GetTarget().GetAverageUtilization())
			break
		}
	}
	st := in.GetStatus()
	if st != nil {
		out.Status = &autoscalerv1.HorizontalPodAutoscalerStatusV1{ObservedGeneration: st.ObservedGeneration, LastScaleTime: st.LastScaleTime,
			CurrentReplicas: st.GetCurrentReplicas(), DesiredReplicas: st.DesiredReplicas}
		for _, m := range st.GetCurrentMetrics() {
			if cur := m.GetResource().GetCurrent(); m.GetType() == "Resource" && m.GetResource().GetName() == "cpu" && cur != nil && cur.AverageUtilization != nil {
				out.Status.CurrentCpuUtilizationPercentage = int32p(m.GetResource().GetCurrent().GetAverageUtilization())
				break
			}
		}
	}
	return out
}

func isCPUUtilization(m *autoscalerv1.MetricSpec) bool {
	return m.GetType() == "Resource" && m.GetResource().GetName() == "cpu" && m.GetResource().GetTarget().GetType() == "Utilization"
}
