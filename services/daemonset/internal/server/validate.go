package server

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/validation"

	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

var specPath = field.NewPath("spec")

// validateDaemonSet is apps' ValidateDaemonSet / ValidateDaemonSetUpdate.
func validateDaemonSet(ds, old *daemonsetv1.DaemonSet, create bool) field.ErrorList {
	errs := validation.ValidateObjectMeta(ds.Metadata, true, validation.NameIsDNSSubdomain, field.NewPath("metadata"))
	s := ds.GetSpec()
	selPath := specPath.Child("selector")
	var sel k8slabels.Selector = k8slabels.Nothing()
	if s.GetSelector() == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, validation.ValidateNonEmptySelector(s.GetSelector(), "daemonset", selPath)...)
		if parsed, err := labels.FromProto(s.GetSelector()); err == nil {
			sel = parsed
		}
	}
	t := s.GetTemplate()
	tPath := specPath.Child("template")
	if t == nil {
		errs = append(errs, field.Required(tPath, ""))
	} else {
		errs = append(errs, validation.ValidatePodTemplateSpec(t, sel, tPath)...)
		errs = append(errs, validation.ValidateRestartPolicyIn(t, []string{"Always"}, tPath)...)
		if t.GetSpec().ActiveDeadlineSeconds != nil {
			errs = append(errs, field.Invalid(tPath.Child("spec", "activeDeadlineSeconds"), t.GetSpec().GetActiveDeadlineSeconds(), "activeDeadlineSeconds in DaemonSet is not Supported"))
		}
	}
	errs = append(errs, validation.ValidateNonnegative(int64(s.GetMinReadySeconds()), specPath.Child("minReadySeconds"))...)
	errs = append(errs, validateUpdateStrategy(s.GetUpdateStrategy(), specPath.Child("updateStrategy"))...)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, validation.ValidateNonnegative(int64(s.GetRevisionHistoryLimit()), specPath.Child("revisionHistoryLimit"))...)
	}
	if !create && old != nil && !proto.Equal(s.GetSelector(), old.GetSpec().GetSelector()) {
		errs = append(errs, field.Invalid(selPath, labels.String(s.GetSelector()), "field is immutable"))
	}
	return errs
}

// validateUpdateStrategy is ValidateDaemonSetUpdateStrategy.
func validateUpdateStrategy(st *daemonsetv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch st.GetType() {
	case "OnDelete":
	case "RollingUpdate":
		ru := st.GetRollingUpdate()
		if ru == nil {
			return append(errs, field.Required(fldPath.Child("rollingUpdate"), ""))
		}
		p := fldPath.Child("rollingUpdate")
		errs = append(errs, validation.ValidateIntOrPercent(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, validation.ValidateIntOrPercent(ru.MaxSurge, p.Child("maxSurge"))...)
		errs = append(errs, validation.ValidateNotMoreThan100Percent(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, validation.ValidateNotMoreThan100Percent(ru.MaxSurge, p.Child("maxSurge"))...)
		hasUnavailable := validation.IntOrPercentValue(ru.MaxUnavailable) != 0
		hasSurge := validation.IntOrPercentValue(ru.MaxSurge) != 0
		switch {
		case hasUnavailable && hasSurge:
			errs = append(errs, field.Invalid(p.Child("maxSurge"), display(ru.MaxSurge), "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("type"), st.GetType(), []string{"RollingUpdate", "OnDelete"}))
	}
	return errs
}

func display(v *structpb.Value) any {
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	return int64(v.GetNumberValue())
}
