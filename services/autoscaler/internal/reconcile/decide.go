package reconcile

import (
	"fmt"
	"time"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

// MetricResult is one metric's proposal (computeReplicasForMetric): a replica count
// and the metric's status, or an error with the ScalingActive=False reason to report.
type MetricResult struct {
	Replicas int32
	// Name describes the metric in events ("cpu resource utilization (percentage of request)").
	Name   string
	Status *autoscalerv1.MetricStatus
	Err    error
	// FailReason is the reason of the error (FailedGetResourceMetric, FailedGetPodsMetric, ...).
	FailReason string
}

// Input is what the controller observed in one sync.
type Input struct {
	// SpecReplicas is the target's scale.spec.replicas.
	SpecReplicas int32
	MinReplicas  int32
	MaxReplicas  int32
	Behavior     *autoscalerv1.HorizontalPodAutoscalerBehavior
	// DownscaleStabilization is the controller's scale-down window.
	DownscaleStabilization time.Duration
	// Metrics are the proposals, one per spec.metrics entry, in order.
	Metrics []MetricResult
}

// Event is a Kubernetes event to record on the autoscaler.
type Event struct {
	Type, Reason, Message string
}

// Decision is the outcome of a sync before the scale write.
type Decision struct {
	// Desired is the replica count to set; Rescale whether it differs from the current one.
	Desired int32
	Rescale bool
	// Reason is the rescale reason of the SuccessfulRescale event.
	Reason string
	// Conditions to set, in order (later ones of the same type win).
	Conditions []Cond
	// MetricStatuses are the status.currentMetrics.
	MetricStatuses []*autoscalerv1.MetricStatus
	// Events to record (metric failures).
	Events []Event
	// Err is set when no replica count could be computed (nothing is scaled).
	Err error
}

// Decide is reconcileAutoscaler after the scale was read: min/max bounds first,
// otherwise the highest metric proposal, normalized by Normalize. h is updated.
func Decide(now time.Time, h *History, in Input) Decision {
	current := in.SpecReplicas
	d := Decision{Conditions: []Cond{{AbleToScale, "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale"}}}
	switch {
	case current == 0 && in.MinReplicas != 0:
		d.Desired = 0
		d.Conditions = append(d.Conditions, Cond{ScalingActive, "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero"})
		return d
	case current > in.MaxReplicas:
		d.Reason = "Current number of replicas above Spec.MaxReplicas"
		d.Desired = in.MaxReplicas
	case current < in.MinReplicas:
		d.Reason = "Current number of replicas below Spec.MinReplicas"
		d.Desired = in.MinReplicas
	default:
		proposal, name, statuses, cond, err := combine(in.Metrics, current)
		d.MetricStatuses = statuses
		for _, m := range in.Metrics {
			if m.Err != nil {
				d.Events = append(d.Events, Event{"Warning", m.FailReason, m.Err.Error()})
			}
		}
		d.Conditions = append(d.Conditions, cond)
		if proposal == -1 {
			d.Err = err
			d.Desired = current
			d.Events = append(d.Events, Event{"Warning", "FailedComputeMetricsReplicas", err.Error()})
			return d
		}
		desired := int32(0)
		rescaleMetric := ""
		if proposal > desired {
			desired, rescaleMetric = proposal, name
		}
		if desired > current {
			d.Reason = fmt.Sprintf("%s above target", rescaleMetric)
		}
		if desired < current {
			d.Reason = "All metrics below target"
		}
		var conds []Cond
		desired, conds = Normalize(now, h, Normalization{
			Behavior: in.Behavior, MinReplicas: in.MinReplicas, MaxReplicas: in.MaxReplicas,
			CurrentReplicas: current, DesiredReplicas: desired, DownscaleStabilization: in.DownscaleStabilization,
		})
		d.Conditions = append(d.Conditions, conds...)
		d.Desired = desired
	}
	d.Rescale = d.Desired != current
	if !d.Rescale {
		d.Desired = current
	}
	return d
}

// combine is computeReplicasForMetrics: the highest proposal; -1 when every metric
// failed, or when some failed and the others would scale down.
func combine(results []MetricResult, specReplicas int32) (int32, string, []*autoscalerv1.MetricStatus, Cond, error) {
	var replicas int32
	var name string
	var statuses []*autoscalerv1.MetricStatus
	invalid := 0
	var firstErr error
	var firstCond Cond
	for _, r := range results {
		if r.Status != nil {
			statuses = append(statuses, r.Status)
		} else {
			statuses = append(statuses, &autoscalerv1.MetricStatus{})
		}
		if r.Err != nil {
			if invalid == 0 {
				firstErr = r.Err
				firstCond = Cond{ScalingActive, "False", r.FailReason, fmt.Sprintf("the HPA was unable to compute the replica count: %v", r.Err)}
			}
			invalid++
			continue
		}
		if replicas == 0 || r.Replicas > replicas {
			replicas, name = r.Replicas, r.Name
		}
	}
	var err error
	if firstErr != nil {
		err = fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %v", invalid, len(results), firstErr)
	}
	if invalid >= len(results) || (invalid > 0 && replicas < specReplicas) {
		return -1, "", statuses, firstCond, err
	}
	return replicas, name, statuses, Cond{ScalingActive, "True", "ValidMetricFound",
		fmt.Sprintf("the HPA was able to successfully calculate a replica count from %s", name)}, err
}
