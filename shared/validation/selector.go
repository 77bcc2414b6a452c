package validation

import (
	"fmt"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"github.com/podwarden/podwarden/shared/labels"
)

// ValidateLabelSelector is metav1validation.ValidateLabelSelector (strict
// label values): matchLabels are valid labels; each matchExpression has a
// qualified-name key, an operator In/NotIn (values required) or
// Exists/DoesNotExist (values forbidden), valid label values. nil is valid.
func ValidateLabelSelector(s *corev1.LabelSelector, fldPath *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	var allErrs field.ErrorList
	allErrs = append(allErrs, ValidateLabels(s.GetMatchLabels(), fldPath.Child("matchLabels"))...)
	meta := labels.ToMeta(&corev1.LabelSelector{MatchExpressions: s.GetMatchExpressions()})
	for i, expr := range meta.MatchExpressions {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelectorRequirement(expr,
			metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("matchExpressions").Index(i))...)
	}
	return allErrs
}

// ValidateNonEmptySelector is the selector check of workload specs
// (apps validation): fldPath is the selector's path (spec.selector); nil is
// "Required value", the selector must be valid, and an empty one is
// "empty selector is invalid for <kindForMessage>" (Kubernetes says
// "deployment" for Deployments and ReplicaSets, "daemonset", "statefulset").
func ValidateNonEmptySelector(s *corev1.LabelSelector, kindForMessage string, fldPath *field.Path) field.ErrorList {
	if s == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	allErrs := ValidateLabelSelector(s, fldPath)
	if len(s.GetMatchLabels())+len(s.GetMatchExpressions()) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, badValue(s), fmt.Sprintf("empty selector is invalid for %s", kindForMessage)))
	}
	return allErrs
}
