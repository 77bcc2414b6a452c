package server

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

var specPath = field.NewPath("spec")

// validateWorkloadTemplate is apps' ValidatePodTemplateSpecForReplicaSet: the template
// must exist, match the selector, be a valid pod template, restart Always, and have
// no activeDeadlineSeconds.
func validateWorkloadTemplate(t *corev1.PodTemplateSpec, sel k8slabels.Selector, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t == nil {
		return append(errs, field.Required(fldPath, ""))
	}
	errs = append(errs, validation.ValidatePodTemplateSpec(t, sel, fldPath)...)
	if rp := t.GetSpec().GetRestartPolicy(); rp != "Always" {
		errs = append(errs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), rp, []string{"Always"}))
	}
	if t.GetSpec().ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(fldPath.Child("spec", "activeDeadlineSeconds"), t.GetSpec().GetActiveDeadlineSeconds(), "activeDeadlineSeconds in ReplicaSet is not Supported"))
	}
	return errs
}

// validateSelector requires a non-empty, valid selector and returns it parsed.
func validateSelector(s *corev1.LabelSelector, kind string, fldPath *field.Path) (k8slabels.Selector, field.ErrorList) {
	if s == nil {
		return k8slabels.Nothing(), field.ErrorList{field.Required(fldPath, "")}
	}
	errs := validation.ValidateLabelSelector(s, fldPath)
	if len(s.GetMatchLabels())+len(s.GetMatchExpressions()) == 0 {
		errs = append(errs, field.Invalid(fldPath, labels.String(s), "empty selector is invalid for "+kind))
	}
	sel, err := labels.FromProto(s)
	if err != nil {
		errs = append(errs, field.Invalid(fldPath, labels.String(s), "invalid label selector"))
		sel = k8slabels.Nothing()
	}
	return sel, errs
}

func validateMeta(m *corev1.ObjectMeta) field.ErrorList {
	return validation.ValidateObjectMeta(m, true, validation.NameIsDNSSubdomain, field.NewPath("metadata"))
}

func nonneg(v int64, p *field.Path) field.ErrorList { return validation.ValidateNonnegative(v, p) }

// validateDeployment is apps' ValidateDeployment / ValidateDeploymentUpdate.
func validateDeployment(d, old *deploymentv1.Deployment, create bool) field.ErrorList {
	errs := validateMeta(d.Metadata)
	s := d.GetSpec()
	errs = append(errs, nonneg(int64(s.GetReplicas()), specPath.Child("replicas"))...)
	sel, serrs := validateSelector(s.GetSelector(), "deployment", specPath.Child("selector"))
	errs = append(errs, serrs...)
	errs = append(errs, validateWorkloadTemplate(s.GetTemplate(), sel, specPath.Child("template"))...)
	errs = append(errs, validateStrategy(s.GetStrategy(), specPath.Child("strategy"))...)
	errs = append(errs, nonneg(int64(s.GetMinReadySeconds()), specPath.Child("minReadySeconds"))...)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, nonneg(int64(s.GetRevisionHistoryLimit()), specPath.Child("revisionHistoryLimit"))...)
	}
	if s.ProgressDeadlineSeconds != nil {
		p := specPath.Child("progressDeadlineSeconds")
		errs = append(errs, nonneg(int64(s.GetProgressDeadlineSeconds()), p)...)
		if s.GetProgressDeadlineSeconds() <= s.GetMinReadySeconds() {
			errs = append(errs, field.Invalid(p, s.GetProgressDeadlineSeconds(), "must be greater than minReadySeconds"))
		}
	}
	if !create && old != nil {
		errs = append(errs, immutableSelector(s.GetSelector(), old.GetSpec().GetSelector())...)
	}
	return errs
}

func immutableSelector(s, old *corev1.LabelSelector) field.ErrorList {
	if proto.Equal(s, old) {
		return nil
	}
	return field.ErrorList{field.Invalid(specPath.Child("selector"), labels.String(s), "field is immutable")}
}

func validateStrategy(st *deploymentv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch st.GetType() {
	case "Recreate":
		if st.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case "RollingUpdate":
		ru := st.GetRollingUpdate()
		if ru == nil {
			return append(errs, field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil"))
		}
		p := fldPath.Child("rollingUpdate")
		errs = append(errs, validation.ValidateIntOrPercent(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, validation.ValidateIntOrPercent(ru.MaxSurge, p.Child("maxSurge"))...)
		if validation.IntOrPercentValue(ru.MaxUnavailable) == 0 && validation.IntOrPercentValue(ru.MaxSurge) == 0 {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), displayIntOrString(ru.MaxUnavailable), "may not be 0 when `maxSurge` is 0"))
		}
		errs = append(errs, validation.ValidateNotMoreThan100Percent(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("type"), st.GetType(), []string{"Recreate", "RollingUpdate"}))
	}
	return errs
}

func displayIntOrString(v *structpb.Value) any {
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	return int64(v.GetNumberValue())
}

// validateReplicaSet is apps' ValidateReplicaSet / ValidateReplicaSetUpdate.
func validateReplicaSet(rs, old *deploymentv1.ReplicaSet, create bool) field.ErrorList {
	errs := validateMeta(rs.Metadata)
	s := rs.GetSpec()
	errs = append(errs, nonneg(int64(s.GetReplicas()), specPath.Child("replicas"))...)
	errs = append(errs, nonneg(int64(s.GetMinReadySeconds()), specPath.Child("minReadySeconds"))...)
	sel, serrs := validateSelector(s.GetSelector(), "replicaset", specPath.Child("selector"))
	errs = append(errs, serrs...)
	errs = append(errs, validateWorkloadTemplate(s.GetTemplate(), sel, specPath.Child("template"))...)
	if !create && old != nil {
		errs = append(errs, immutableSelector(s.GetSelector(), old.GetSpec().GetSelector())...)
	}
	return errs
}

// validateReplicationController is core's ValidateReplicationController: the selector
// is a plain map, required, and must match the template's labels.
func validateReplicationController(rc, old *deploymentv1.ReplicationController, create bool) field.ErrorList {
	errs := validateMeta(rc.Metadata)
	s := rc.GetSpec()
	errs = append(errs, nonneg(int64(s.GetReplicas()), specPath.Child("replicas"))...)
	errs = append(errs, nonneg(int64(s.GetMinReadySeconds()), specPath.Child("minReadySeconds"))...)
	selPath := specPath.Child("selector")
	if len(s.GetSelector()) == 0 {
		errs = append(errs, field.Required(selPath, ""))
	}
	sel := labels.FromMap(s.GetSelector())
	errs = append(errs, validation.ValidateLabelSelector(sel, selPath)...)
	parsed, err := labels.FromProto(sel)
	if err != nil {
		parsed = k8slabels.Nothing()
	}
	t := s.GetTemplate()
	if t == nil {
		errs = append(errs, field.Required(specPath.Child("template"), ""))
	} else {
		if len(s.GetSelector()) > 0 && !parsed.Matches(k8slabels.Set(t.GetMetadata().GetLabels())) {
			errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), t.GetMetadata().GetLabels(), "`selector` does not match template `labels`"))
		}
		errs = append(errs, validateWorkloadTemplate(t, k8slabels.Everything(), specPath.Child("template"))...)
	}
	return errs
}
