package validation

import (
	"strings"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Taint effects and toleration operators.
const (
	TaintEffectNoSchedule       = "NoSchedule"
	TaintEffectPreferNoSchedule = "PreferNoSchedule"
	TaintEffectNoExecute        = "NoExecute"
	TolerationOpEqual           = "Equal"
	TolerationOpExists          = "Exists"
)

var taintEffects = []string{TaintEffectNoSchedule, TaintEffectPreferNoSchedule, TaintEffectNoExecute}

func validateTaintEffect(effect string, allowEmpty bool, fldPath *field.Path) field.ErrorList {
	if !allowEmpty && effect == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	switch effect {
	case TaintEffectNoSchedule, TaintEffectPreferNoSchedule, TaintEffectNoExecute:
		return nil
	default:
		return field.ErrorList{field.NotSupported(fldPath, effect, taintEffects)}
	}
}

// ValidateTolerations is Kubernetes' ValidateTolerations: a key is a
// qualified name; an empty key needs operator Exists; tolerationSeconds needs
// effect NoExecute; operator Equal (or empty) takes a label value, Exists no
// value, anything else is unsupported; a set effect is NoSchedule,
// PreferNoSchedule or NoExecute.
func ValidateTolerations(tolerations []*corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range tolerations {
		idxPath := fldPath.Index(i)
		if t.GetKey() != "" {
			allErrs = append(allErrs, metav1validation.ValidateLabelName(t.GetKey(), idxPath.Child("key"))...)
		}
		if t.GetKey() == "" && t.GetOperator() != TolerationOpExists {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), t.GetOperator(),
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.GetEffect() != TaintEffectNoExecute {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("effect"), t.GetEffect(),
				"effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.GetOperator() {
		case TolerationOpEqual, "":
			if errs := validation.IsValidLabelValue(t.GetValue()); len(errs) != 0 {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), t.GetValue(), strings.Join(errs, ";")))
			}
		case TolerationOpExists:
			if t.GetValue() != "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), t.GetValue(), "value must be empty when `operator` is 'Exists'"))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("operator"), t.GetOperator(), []string{TolerationOpEqual, TolerationOpExists}))
		}
		if t.GetEffect() != "" {
			allErrs = append(allErrs, validateTaintEffect(t.GetEffect(), true, idxPath.Child("effect"))...)
		}
	}
	return allErrs
}

// ValidateTaint checks one node taint like Kubernetes' validateNodeTaints:
// the key is a qualified name, the value a label value, the effect required
// and one of NoSchedule, PreferNoSchedule, NoExecute.
func ValidateTaint(t *corev1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, metav1validation.ValidateLabelName(t.GetKey(), fldPath.Child("key"))...)
	if errs := validation.IsValidLabelValue(t.GetValue()); len(errs) != 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("value"), t.GetValue(), strings.Join(errs, ";")))
	}
	allErrs = append(allErrs, validateTaintEffect(t.GetEffect(), false, fldPath.Child("effect"))...)
	return allErrs
}

// ValidateTaints checks a node's spec.taints: each taint (ValidateTaint) and
// uniqueness by key and effect ("taints must be unique by key and effect pair").
func ValidateTaints(taints []*corev1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	type keyEffect struct{ key, effect string }
	seen := map[keyEffect]bool{}
	for i, t := range taints {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, ValidateTaint(t, idxPath)...)
		ke := keyEffect{t.GetKey(), t.GetEffect()}
		if seen[ke] {
			dup := field.Duplicate(idxPath, badValue(t))
			dup.Detail = "taints must be unique by key and effect pair"
			allErrs = append(allErrs, dup)
			continue
		}
		seen[ke] = true
	}
	return allErrs
}

// validateAffinity checks the node affinity (pod (anti-)affinity is carried
// free-form and not checked).
func validateAffinity(a *corev1.Affinity, fldPath *field.Path) field.ErrorList {
	na := a.GetNodeAffinity()
	if na == nil {
		return nil
	}
	fldPath = fldPath.Child("nodeAffinity")
	var allErrs field.ErrorList
	if na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		allErrs = append(allErrs, ValidateNodeSelector(na.RequiredDuringSchedulingIgnoredDuringExecution,
			fldPath.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
	}
	for i, term := range na.GetPreferredDuringSchedulingIgnoredDuringExecution() {
		p := fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
		if term.GetWeight() <= 0 || term.GetWeight() > 100 {
			allErrs = append(allErrs, field.Invalid(p.Child("weight"), term.GetWeight(), "must be in the range 1-100"))
		}
		allErrs = append(allErrs, validateNodeSelectorTerm(term.GetPreference(), true, p.Child("preference"))...)
	}
	return allErrs
}

// ValidateNodeSelector checks a required node affinity: at least one term
// ("must have at least one node selector term"), each term's
// matchExpressions (ValidateNodeSelectorRequirement) and matchFields (key
// metadata.name, In/NotIn with exactly one value).
func ValidateNodeSelector(ns *corev1.NodeSelector, fldPath *field.Path) field.ErrorList {
	termPath := fldPath.Child("nodeSelectorTerms")
	if len(ns.GetNodeSelectorTerms()) == 0 {
		return field.ErrorList{field.Required(termPath, "must have at least one node selector term")}
	}
	var allErrs field.ErrorList
	for i, term := range ns.GetNodeSelectorTerms() {
		allErrs = append(allErrs, validateNodeSelectorTerm(term, false, termPath.Index(i))...)
	}
	return allErrs
}

func validateNodeSelectorTerm(term *corev1.NodeSelectorTerm, allowInvalidValues bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for j, r := range term.GetMatchExpressions() {
		allErrs = append(allErrs, validateNodeSelectorRequirement(r, allowInvalidValues, fldPath.Child("matchExpressions").Index(j))...)
	}
	for j, r := range term.GetMatchFields() {
		allErrs = append(allErrs, validateNodeFieldSelectorRequirement(r, fldPath.Child("matchFields").Index(j))...)
	}
	return allErrs
}

// ValidateNodeSelectorRequirement is Kubernetes' check of a node affinity
// expression: In/NotIn need values, Exists/DoesNotExist forbid them, Gt/Lt
// need exactly one; any other operator is "not a valid selector operator";
// the key is a qualified name and values are label values.
func ValidateNodeSelectorRequirement(r *corev1.NodeSelectorRequirement, fldPath *field.Path) field.ErrorList {
	return validateNodeSelectorRequirement(r, false, fldPath)
}

func validateNodeSelectorRequirement(r *corev1.NodeSelectorRequirement, allowInvalidValues bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch r.GetOperator() {
	case "In", "NotIn":
		if len(r.GetValues()) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
		}
	case "Exists", "DoesNotExist":
		if len(r.GetValues()) > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
		}
	case "Gt", "Lt":
		if len(r.GetValues()) != 1 {
			allErrs = append(allErrs, field.Required(fldPath.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("operator"), r.GetOperator(), "not a valid selector operator"))
	}
	allErrs = append(allErrs, metav1validation.ValidateLabelName(r.GetKey(), fldPath.Child("key"))...)
	if !allowInvalidValues {
		for i, v := range r.GetValues() {
			for _, msg := range validation.IsValidLabelValue(v) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("values").Index(i), v, msg))
			}
		}
	}
	return allErrs
}

func validateNodeFieldSelectorRequirement(r *corev1.NodeSelectorRequirement, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch r.GetOperator() {
	case "In", "NotIn":
		if len(r.GetValues()) != 1 {
			allErrs = append(allErrs, field.Required(fldPath.Child("values"),
				"must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("operator"), r.GetOperator(), "not a valid selector operator"))
	}
	if r.GetKey() != "metadata.name" {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("key"), r.GetKey(), "not a valid field selector key"))
	} else {
		for i, v := range r.GetValues() {
			for _, msg := range NameIsDNSSubdomain(v, false) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("values").Index(i), v, msg))
			}
		}
	}
	return allErrs
}
