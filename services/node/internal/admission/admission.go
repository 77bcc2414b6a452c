// Package admission is what kube-apiserver does to a pod before storing it:
// defaulting, the DefaultTolerationSeconds admission plugin, status reset,
// validation of a create, and the pod update rules (what may change on a
// running pod). Pure functions.
package admission

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/services/node/internal/scheduler"
	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// DefaultTolerationSeconds is the admission plugin's default (300s) for the
// not-ready and unreachable NoExecute taints.
const DefaultTolerationSeconds = int64(300)

// Prepare turns a pod as requested (or as commanded by an owner) into the pod
// to store: type meta, defaults, the default tolerations, and a fresh status
// (Pending, qosClass). Metadata other than type meta is left to the caller.
func Prepare(p *corev1.Pod) {
	p.ApiVersion, p.Kind = "v1", "Pod"
	if p.Metadata == nil {
		p.Metadata = &corev1.ObjectMeta{}
	}
	defaults.DefaultPod(p)
	AddDefaultTolerations(p)
	DefaultServiceAccount(p)
	p.Status = &corev1.PodStatus{Phase: podutil.PodPending, QosClass: podstatus.QOSClass(p)}
}

// DefaultServiceAccountName is the ServiceAccount of a pod that names none.
const DefaultServiceAccountName = "default"

// DefaultServiceAccount is the ServiceAccount admission plugin's defaulting: a
// pod without spec.serviceAccountName runs as the deprecated spec.serviceAccount
// when set, else as "default"; the deprecated field follows the name.
func DefaultServiceAccount(p *corev1.Pod) {
	if p.Spec == nil {
		p.Spec = &corev1.PodSpec{}
	}
	if p.Spec.ServiceAccountName == "" {
		p.Spec.ServiceAccountName = p.Spec.ServiceAccount
	}
	if p.Spec.ServiceAccountName == "" {
		p.Spec.ServiceAccountName = DefaultServiceAccountName
	}
	p.Spec.ServiceAccount = p.Spec.ServiceAccountName
}

// AddDefaultTolerations is the DefaultTolerationSeconds admission plugin: a pod
// that does not tolerate node.kubernetes.io/not-ready:NoExecute (resp.
// unreachable) gets a toleration for 300 seconds.
func AddDefaultTolerations(p *corev1.Pod) {
	for _, key := range []string{scheduler.TaintNodeNotReady, scheduler.TaintNodeUnreachable} {
		has := false
		for _, t := range p.Spec.GetTolerations() {
			if (t.GetKey() == key || t.GetKey() == "" && t.GetOperator() == scheduler.OpExists) &&
				(t.GetEffect() == "" || t.GetEffect() == scheduler.EffectNoExecute) {
				has = true
				break
			}
		}
		if !has {
			secs := DefaultTolerationSeconds
			p.Spec.Tolerations = append(p.Spec.Tolerations, &corev1.Toleration{
				Key: key, Operator: scheduler.OpExists, Effect: scheduler.EffectNoExecute, TolerationSeconds: &secs,
			})
		}
	}
}

// ValidateCreate validates a new pod (metadata and spec).
func ValidateCreate(p *corev1.Pod) field.ErrorList {
	errs := validation.ValidateObjectMeta(p.GetMetadata(), true, validation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(errs, validation.ValidatePodSpec(p.GetSpec(), field.NewPath("spec"))...)
}

// updatableFields is Kubernetes' list, in its order and wording.
var updatableFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// ValidateUpdate is ValidatePodUpdate: metadata update rules, then the spec
// may only change container images, activeDeadlineSeconds (set, or lowered),
// tolerations (additions; tolerationSeconds may shrink) and a negative
// terminationGracePeriodSeconds to 1. newPod must be defaulted.
func ValidateUpdate(newPod, oldPod *corev1.Pod) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(newPod.GetMetadata(), oldPod.GetMetadata(), field.NewPath("metadata"))
	specPath := field.NewPath("spec")
	errs = append(errs, validation.ValidatePodSpec(newPod.GetSpec(), specPath)...)
	oldSpec, newSpec := oldPod.GetSpec(), newPod.GetSpec()
	if oldSpec.ActiveDeadlineSeconds != nil {
		switch {
		case newSpec.ActiveDeadlineSeconds == nil:
			errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), nil, "must not update from a positive integer to nil value"))
		case newSpec.GetActiveDeadlineSeconds() > oldSpec.GetActiveDeadlineSeconds():
			errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), newSpec.GetActiveDeadlineSeconds(), "must be less than or equal to previous value"))
		}
	}
	errs = append(errs, validateTolerationsUpdate(newSpec.GetTolerations(), oldSpec.GetTolerations(), specPath.Child("tolerations"))...)

	// Everything else must be as it was: copy the mutable fields over and compare.
	mutated := proto.Clone(newSpec).(*corev1.PodSpec)
	if len(mutated.Containers) == len(oldSpec.GetContainers()) {
		for i, c := range mutated.Containers {
			c.Image = oldSpec.Containers[i].GetImage()
		}
	}
	if len(mutated.InitContainers) == len(oldSpec.GetInitContainers()) {
		for i, c := range mutated.InitContainers {
			c.Image = oldSpec.InitContainers[i].GetImage()
		}
	}
	mutated.ActiveDeadlineSeconds = oldSpec.ActiveDeadlineSeconds
	mutated.Tolerations = oldSpec.GetTolerations()
	if o, n := oldSpec.TerminationGracePeriodSeconds, newSpec.TerminationGracePeriodSeconds; o != nil && *o < 0 && n != nil && *n == 1 {
		mutated.TerminationGracePeriodSeconds = o
	}
	if !proto.Equal(mutated, oldSpec) {
		errs = append(errs, field.Forbidden(specPath, "pod updates may not change fields other than "+strings.Join(updatableFields, ",")))
	}
	return errs
}

// validateTolerationsUpdate: every existing toleration stays, only its
// tolerationSeconds may be lowered (Kubernetes' ValidateTolerationsInPodUpdate).
func validateTolerationsUpdate(newT, oldT []*corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, o := range oldT {
		found := false
		for _, n := range newT {
			if n.GetKey() == o.GetKey() && n.GetOperator() == o.GetOperator() && n.GetValue() == o.GetValue() && n.GetEffect() == o.GetEffect() {
				if o.TolerationSeconds != nil && (n.TolerationSeconds == nil || *n.TolerationSeconds > *o.TolerationSeconds) {
					continue
				}
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds"))
			break
		}
	}
	return errs
}

// Bind records the scheduler's decision on pod: spec.nodeName, PodScheduled=True,
// hostIP and podIP.
func Bind(p *corev1.Pod, node, hostIP, podIP string, now *timestamppb.Timestamp) {
	p.Spec.NodeName = node
	if p.Status == nil {
		p.Status = &corev1.PodStatus{Phase: podutil.PodPending}
	}
	podstatus.SetCondition(p.Status, podutil.PodScheduled, "True", "", "", now.AsTime())
	p.Status.HostIp, p.Status.HostIps = hostIP, []*corev1.HostIP{{Ip: hostIP}}
	if podIP != "" {
		p.Status.PodIp, p.Status.PodIps = podIP, []*corev1.PodIP{{Ip: podIP}}
	}
}
