package server

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/validation"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

// Limits of autoscaling's validation.
const (
	MaxStabilizationWindowSeconds = 3600
	MaxPeriodSeconds              = 1800
)

// ScalableKinds are the kinds whose scale subresource podwarden serves (over gRPC).
var ScalableKinds = []string{"Deployment", "ReplicaSet", "ReplicationController", "StatefulSet"}

var (
	metricTypes  = []string{"ContainerResource", "External", "Object", "Pods", "Resource"}
	targetTypes  = []string{"AverageValue", "Utilization", "Value"}
	policyTypes  = []string{"Percent", "Pods"}
	selectPolicy = []string{"Disabled", "Max", "Min"}
)

// ValidateHPA is autoscaling's ValidateHorizontalPodAutoscaler, plus podwarden's rule
// that the target must be a kind with a scale subresource (a DaemonSet has none: it
// runs one pod per eligible node, so it is rejected here rather than failing later).
func ValidateHPA(h, _ *autoscalerv1.HorizontalPodAutoscaler, _ bool) field.ErrorList {
	errs := validation.ValidateObjectMeta(h.Metadata, true, validation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	s := h.GetSpec()
	errs = append(errs, validateTargetRef(s.GetScaleTargetRef(), spec.Child("scaleTargetRef"))...)
	if s.MinReplicas != nil && s.GetMinReplicas() < 1 {
		errs = append(errs, field.Invalid(spec.Child("minReplicas"), s.GetMinReplicas(), "must be greater than or equal to 1"))
	}
	if s.GetMaxReplicas() < 1 {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), s.GetMaxReplicas(), "must be greater than or equal to 1"))
	}
	if s.MinReplicas != nil && s.GetMaxReplicas() < s.GetMinReplicas() {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), s.GetMaxReplicas(), "must be greater than or equal to `minReplicas`"))
	}
	for i, m := range s.GetMetrics() {
		errs = append(errs, validateMetricSpec(m, spec.Child("metrics").Index(i))...)
	}
	if b := s.GetBehavior(); b != nil {
		p := spec.Child("behavior")
		errs = append(errs, validateRules(b.GetScaleUp(), p.Child("scaleUp"))...)
		errs = append(errs, validateRules(b.GetScaleDown(), p.Child("scaleDown"))...)
	}
	return errs
}

func validateTargetRef(r *autoscalerv1.CrossVersionObjectReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	switch {
	case r.GetKind() == "":
		errs = append(errs, field.Required(p.Child("kind"), ""))
	case r.GetKind() == "DaemonSet":
		errs = append(errs, field.Invalid(p.Child("kind"), r.GetKind(), fmt.Sprintf(
			"a DaemonSet cannot be autoscaled: it runs one pod per eligible node and has no scale subresource (replicas); supported kinds: %s",
			strings.Join(ScalableKinds, ", "))))
	case !contains(ScalableKinds, r.GetKind()):
		errs = append(errs, field.Invalid(p.Child("kind"), r.GetKind(), fmt.Sprintf(
			"no scale subresource is served for this kind; supported kinds: %s", strings.Join(ScalableKinds, ", "))))
	}
	if r.GetName() == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range validation.NameIsDNSSubdomain(r.GetName(), false) {
			errs = append(errs, field.Invalid(p.Child("name"), r.GetName(), msg))
		}
	}
	return errs
}

func validateMetricSpec(m *autoscalerv1.MetricSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.GetType() == "" {
		return field.ErrorList{field.Required(p.Child("type"), "must specify a metric source type")}
	}
	if !contains(metricTypes, m.GetType()) {
		return field.ErrorList{field.NotSupported(p.Child("type"), m.GetType(), metricTypes)}
	}
	set := map[string]bool{"Object": m.Object != nil, "Pods": m.Pods != nil, "Resource": m.Resource != nil,
		"ContainerResource": m.ContainerResource != nil, "External": m.External != nil}
	n := 0
	for _, v := range set {
		if v {
			n++
		}
	}
	if n != 1 || !set[m.GetType()] {
		if !set[m.GetType()] {
			errs = append(errs, field.Required(p.Child(lowerFirst(m.GetType())), "must populate information for the given metric source"))
		}
		if n > 1 {
			errs = append(errs, field.Forbidden(p, "must populate the given metric source only"))
		}
		return errs
	}
	switch m.GetType() {
	case "Resource":
		r := m.GetResource()
		pp := p.Child("resource")
		errs = append(errs, validateResourceName(r.GetName(), pp.Child("name"))...)
		errs = append(errs, validateResourceTarget(r.GetTarget(), pp.Child("target"))...)
	case "ContainerResource":
		r := m.GetContainerResource()
		pp := p.Child("containerResource")
		errs = append(errs, validateResourceName(r.GetName(), pp.Child("name"))...)
		if r.GetContainer() == "" {
			errs = append(errs, field.Required(pp.Child("container"), "must specify a container"))
		}
		errs = append(errs, validateResourceTarget(r.GetTarget(), pp.Child("target"))...)
	case "Pods":
		pp := p.Child("pods")
		errs = append(errs, validateMetricIdentifier(m.GetPods().GetMetric(), pp.Child("metric"))...)
		t := m.GetPods().GetTarget()
		errs = append(errs, validateTarget(t, pp.Child("target"))...)
		if t != nil && t.AverageValue == nil {
			errs = append(errs, field.Required(pp.Child("target", "averageValue"), "must specify a positive target averageValue"))
		}
	case "Object":
		pp := p.Child("object")
		o := m.GetObject()
		if o.GetDescribedObject().GetKind() == "" {
			errs = append(errs, field.Required(pp.Child("describedObject", "kind"), ""))
		}
		if o.GetDescribedObject().GetName() == "" {
			errs = append(errs, field.Required(pp.Child("describedObject", "name"), ""))
		}
		errs = append(errs, validateMetricIdentifier(o.GetMetric(), pp.Child("metric"))...)
		t := o.GetTarget()
		errs = append(errs, validateTarget(t, pp.Child("target"))...)
		if t != nil && t.Value == nil && t.AverageValue == nil {
			errs = append(errs, field.Required(pp.Child("target", "value"), "must set either a target value or averageValue"))
		}
	case "External":
		pp := p.Child("external")
		errs = append(errs, validateMetricIdentifier(m.GetExternal().GetMetric(), pp.Child("metric"))...)
		t := m.GetExternal().GetTarget()
		errs = append(errs, validateTarget(t, pp.Child("target"))...)
		if t != nil && t.Value == nil && t.AverageValue == nil {
			errs = append(errs, field.Required(pp.Child("target", "value"), "must set either a target value for metric or a per-pod target"))
		}
	}
	return errs
}

func validateResourceName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "must specify a resource name")}
	}
	return nil
}

func validateResourceTarget(t *autoscalerv1.MetricTarget, p *field.Path) field.ErrorList {
	errs := validateTarget(t, p)
	if t == nil {
		return errs
	}
	if t.Value != nil {
		errs = append(errs, field.Forbidden(p.Child("value"), "may not set value for resource metrics"))
	}
	if t.AverageUtilization == nil && t.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		errs = append(errs, field.Forbidden(p.Child("averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

func validateTarget(t *autoscalerv1.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	if t.GetType() == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric target type"))
	} else if !contains(targetTypes, t.GetType()) {
		errs = append(errs, field.NotSupported(p.Child("type"), t.GetType(), targetTypes))
	}
	errs = append(errs, positiveQuantity(t.Value, p.Child("value"))...)
	errs = append(errs, positiveQuantity(t.AverageValue, p.Child("averageValue"))...)
	if t.AverageUtilization != nil && t.GetAverageUtilization() < 1 {
		errs = append(errs, field.Invalid(p.Child("averageUtilization"), t.GetAverageUtilization(), "must be greater than 0"))
	}
	return errs
}

func positiveQuantity(v *structpb.Value, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	q, err := defaults.Quantity(v)
	if err != nil {
		return field.ErrorList{field.Invalid(p, v.AsInterface(), "must be a quantity")}
	}
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be positive")}
	}
	return nil
}

func validateMetricIdentifier(id *autoscalerv1.MetricIdentifier, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if id.GetName() == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a metric name"))
	}
	errs = append(errs, validation.ValidateLabelSelector(id.GetSelector(), p.Child("selector"))...)
	return errs
}

func validateRules(r *autoscalerv1.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if r.StabilizationWindowSeconds != nil {
		w := r.GetStabilizationWindowSeconds()
		wp := p.Child("stabilizationWindowSeconds")
		if w < 0 {
			errs = append(errs, field.Invalid(wp, w, "must be greater than or equal to zero"))
		}
		if w > MaxStabilizationWindowSeconds {
			errs = append(errs, field.Invalid(wp, w, fmt.Sprintf("must be less than or equal to %d", MaxStabilizationWindowSeconds)))
		}
	}
	if r.GetSelectPolicy() != "" && !contains(selectPolicy, r.GetSelectPolicy()) {
		errs = append(errs, field.NotSupported(p.Child("selectPolicy"), r.GetSelectPolicy(), selectPolicy))
	}
	if len(r.GetPolicies()) == 0 {
		errs = append(errs, field.Required(p.Child("policies"), "must specify at least one Policy"))
	}
	for i, pol := range r.GetPolicies() {
		pp := p.Child("policies").Index(i)
		if !contains(policyTypes, pol.GetType()) {
			errs = append(errs, field.NotSupported(pp.Child("type"), pol.GetType(), policyTypes))
		}
		if pol.GetValue() <= 0 {
			errs = append(errs, field.Invalid(pp.Child("value"), pol.GetValue(), "must be greater than zero"))
		}
		if pol.GetPeriodSeconds() <= 0 {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.GetPeriodSeconds(), "must be greater than zero"))
		}
		if pol.GetPeriodSeconds() > MaxPeriodSeconds {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.GetPeriodSeconds(), fmt.Sprintf("must be less than or equal to %d", MaxPeriodSeconds)))
		}
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
