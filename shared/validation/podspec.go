package validation

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"github.com/podwarden/podwarden/shared/defaults"
)

// ValidatePodTemplateSpec validates a workload's pod template; fldPath is the
// template's path (spec.template):
//   - when selector is non-nil and not empty, the template labels must match
//     it: "`selector` does not match template `labels`" at
//     <fldPath>.metadata.labels (apps validation; a labels.Nothing() selector,
//     from a nil LabelSelector, never matches, as in Kubernetes);
//   - template labels and annotations (reported at <fldPath>.labels and
//     <fldPath>.annotations, Kubernetes' own paths);
//   - the pod spec (ValidatePodSpec at <fldPath>.spec);
//   - no ephemeral containers.
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, selector k8slabels.Selector, fldPath *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	tmplLabels := t.GetMetadata().GetLabels()
	if selector != nil && !selector.Empty() && !selector.Matches(k8slabels.Set(tmplLabels)) {
		var bad any = tmplLabels
		if tmplLabels == nil {
			bad = map[string]string{}
		}
		allErrs = append(allErrs, field.Invalid(fldPath.Child("metadata", "labels"), bad, "`selector` does not match template `labels`"))
	}
	allErrs = append(allErrs, ValidateLabels(tmplLabels, fldPath.Child("labels"))...)
	allErrs = append(allErrs, ValidateAnnotations(t.GetMetadata().GetAnnotations(), fldPath.Child("annotations"))...)
	allErrs = append(allErrs, ValidatePodSpec(t.GetSpec(), fldPath.Child("spec"))...)
	if len(t.GetSpec().GetEphemeralContainers()) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return allErrs
}

// ValidateRestartPolicyIn checks a template's restartPolicy against the values
// a workload allows, as apps and batch validation do after defaulting (an
// empty policy counts as its default, Always): Deployment, ReplicaSet,
// ReplicationController, DaemonSet and StatefulSet allow only Always, Job
// OnFailure and Never. The error is NotSupported at <fldPath>.spec.restartPolicy.
func ValidateRestartPolicyIn(t *corev1.PodTemplateSpec, allowed []string, fldPath *field.Path) field.ErrorList {
	rp := t.GetSpec().GetRestartPolicy()
	if rp == "" {
		rp = defaults.RestartPolicyAlways
	}
	for _, a := range allowed {
		if rp == a {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(fldPath.Child("spec", "restartPolicy"), rp, allowed)}
}

// ValidateNoActiveDeadline forbids activeDeadlineSeconds in the template of a
// replicated workload: "activeDeadlineSeconds in <kind> is not Supported"
// (Kubernetes says ReplicaSet for Deployments and ReplicaSets,
// ReplicationController for those).
func ValidateNoActiveDeadline(t *corev1.PodTemplateSpec, kind string, fldPath *field.Path) field.ErrorList {
	if t.GetSpec().ActiveDeadlineSeconds == nil {
		return nil
	}
	return field.ErrorList{field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"),
		fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind))}
}

// ValidatePodSpec is Kubernetes' ValidatePodSpec for the fields podwarden
// models: volumes; containers (at least one; names DNS-1123 labels, unique
// across init and regular containers; image required; ports; env; envFrom;
// volumeMounts naming existing volumes; imagePullPolicy;
// terminationMessagePolicy; resources with requests <= limits; probes;
// lifecycle); init containers; hostNetwork ports; restartPolicy
// Always/OnFailure/Never; dnsPolicy; nodeSelector labels; node affinity;
// dnsConfig for dnsPolicy None; serviceAccountName; nodeName;
// terminationGracePeriodSeconds >= 0; activeDeadlineSeconds 1..2147483647;
// hostname; subdomain; tolerations; priorityClassName; runtimeClassName;
// preemptionPolicy; overhead. Free-form parts (securityContext, pod
// affinity, topology spread, ...) are not checked.
func ValidatePodSpec(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	if spec == nil {
		return field.ErrorList{field.Required(fldPath.Child("containers"), "")}
	}
	var allErrs field.ErrorList
	if tg := spec.TerminationGracePeriodSeconds; tg != nil {
		allErrs = append(allErrs, ValidateNonnegative(*tg, fldPath.Child("terminationGracePeriodSeconds"))...)
	}
	vols, vErrs := validateVolumes(spec.GetVolumes(), fldPath.Child("volumes"))
	allErrs = append(allErrs, vErrs...)
	allErrs = append(allErrs, validateContainers(spec.GetContainers(), vols, fldPath.Child("containers"))...)
	allErrs = append(allErrs, validateInitContainers(spec.GetInitContainers(), spec.GetContainers(), vols, fldPath.Child("initContainers"))...)
	allErrs = append(allErrs, validateHostNetworkPorts(spec, fldPath)...)
	switch spec.GetRestartPolicy() {
	case "", "Always", "OnFailure", "Never":
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("restartPolicy"), spec.GetRestartPolicy(), []string{"Always", "OnFailure", "Never"}))
	}
	switch spec.GetDnsPolicy() {
	case "", "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None":
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("dnsPolicy"), spec.GetDnsPolicy(),
			[]string{"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"}))
	}
	allErrs = append(allErrs, ValidateLabels(spec.GetNodeSelector(), fldPath.Child("nodeSelector"))...)
	allErrs = append(allErrs, validateAffinity(spec.GetAffinity(), fldPath.Child("affinity"))...)
	if spec.GetDnsPolicy() == "None" {
		if spec.GetDnsConfig() == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
		} else if len(spec.GetDnsConfig().GetFields()["nameservers"].GetListValue().GetValues()) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("dnsConfig", "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"))
		}
	}
	if spec.GetServiceAccountName() != "" {
		for _, msg := range NameIsDNSSubdomain(spec.GetServiceAccountName(), false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("serviceAccountName"), spec.GetServiceAccountName(), msg))
		}
	}
	if spec.GetNodeName() != "" {
		for _, msg := range NameIsDNSSubdomain(spec.GetNodeName(), false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("nodeName"), spec.GetNodeName(), msg))
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := spec.GetActiveDeadlineSeconds(); v < 1 || v > math.MaxInt32 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if spec.GetHostname() != "" {
		allErrs = append(allErrs, validateDNS1123Label(spec.GetHostname(), fldPath.Child("hostname"))...)
	}
	if spec.GetSubdomain() != "" {
		allErrs = append(allErrs, validateDNS1123Label(spec.GetSubdomain(), fldPath.Child("subdomain"))...)
	}
	if len(spec.GetTolerations()) > 0 {
		allErrs = append(allErrs, ValidateTolerations(spec.GetTolerations(), fldPath.Child("tolerations"))...)
	}
	if spec.GetPriorityClassName() != "" {
		for _, msg := range NameIsDNSSubdomain(spec.GetPriorityClassName(), false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("priorityClassName"), spec.GetPriorityClassName(), msg))
		}
	}
	if spec.RuntimeClassName != nil {
		allErrs = append(allErrs, validateDNS1123Subdomain(spec.GetRuntimeClassName(), fldPath.Child("runtimeClassName"))...)
	}
	if spec.PreemptionPolicy != nil {
		switch spec.GetPreemptionPolicy() {
		case "PreemptLowerPriority", "Never":
		case "":
			allErrs = append(allErrs, field.Required(fldPath.Child("preemptionPolicy"), ""))
		default:
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("preemptionPolicy"), spec.GetPreemptionPolicy(), []string{"PreemptLowerPriority", "Never"}))
		}
	}
	if len(spec.GetOverhead()) > 0 {
		allErrs = append(allErrs, validateResourceRequirements(&corev1.ResourceRequirements{Limits: spec.GetOverhead()}, fldPath.Child("overhead"))...)
	}
	return allErrs
}

// validateHostNetworkPorts: with hostNetwork a set hostPort must equal the
// containerPort (0 is allowed in templates; pods get it defaulted).
func validateHostNetworkPorts(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	if !spec.GetHostNetwork() {
		return nil
	}
	var allErrs field.ErrorList
	for i, c := range spec.GetContainers() {
		for j, port := range c.GetPorts() {
			if hp, cp := port.GetHostPort(), port.GetContainerPort(); hp != 0 && hp != cp {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("containers").Index(i).Child("ports").Index(j).Child("hostPort"),
					hp, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
	}
	return allErrs
}

// ValidatePodTemplateSpecForStatefulSet validates a StatefulSet's template
// like ValidatePodTemplateSpec, with each volumeClaimTemplate name counted as
// a pod volume (the controller adds one persistentVolumeClaim volume per claim
// template), so mounts of claims are found. Kubernetes itself checks only the
// selector, labels and annotations of this template and lets the pods fail
// at creation; podwarden rejects a broken template up front.
func ValidatePodTemplateSpecForStatefulSet(t *corev1.PodTemplateSpec, selector k8slabels.Selector, claimNames []string, fldPath *field.Path) field.ErrorList {
	if t == nil || len(claimNames) == 0 {
		return ValidatePodTemplateSpec(t, selector, fldPath)
	}
	withClaims := proto.Clone(t).(*corev1.PodTemplateSpec)
	if withClaims.Spec == nil {
		withClaims.Spec = &corev1.PodSpec{}
	}
	have := map[string]bool{}
	for _, v := range withClaims.Spec.Volumes {
		have[v.GetName()] = true
	}
	for _, name := range claimNames {
		if have[name] || len(validation.IsDNS1123Label(name)) > 0 {
			continue
		}
		have[name] = true
		withClaims.Spec.Volumes = append(withClaims.Spec.Volumes, &corev1.Volume{
			Name:                  name,
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name},
		})
	}
	return ValidatePodTemplateSpec(withClaims, selector, fldPath)
}
