package reconcile

import (
	"maps"
	"slices"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Name generation limits of Kubernetes' names.SimpleNameGenerator.
const (
	maxPodNameLength          = 63
	generatedNameRandomLength = 5
	maxGeneratedNameBase      = maxPodNameLength - generatedNameRandomLength
	// maxDNSSubdomainLength bounds a generateName prefix (Kubernetes' getPodsPrefix).
	maxDNSSubdomainLength = 253
)

// PodFromTemplate stamps a pod for the controller ref names, as Kubernetes'
// GetPodFromTemplate plus what the API server adds on create:
//   - metadata.generateName "<owner>-", metadata.name generateName (cut to
//     58 characters) + nameSuffix, or no name when nameSuffix is empty;
//   - namespace; labels, annotations and finalizers copied from the template;
//   - ownerReferences [ref] (copied) when ref is not nil;
//   - spec deep-copied from the template;
//   - creationTimestamp now and status.phase Pending.
//
// uid and resourceVersion are left to the store.
func PodFromTemplate(template *corev1.PodTemplateSpec, namespace string, ref *corev1.OwnerReference, nameSuffix string, now time.Time) *corev1.Pod {
	tmeta := template.GetMetadata()
	prefix := podsPrefix(ref.GetName())
	meta := &corev1.ObjectMeta{
		GenerateName:      prefix,
		Namespace:         namespace,
		Labels:            maps.Clone(tmeta.GetLabels()),
		Annotations:       maps.Clone(tmeta.GetAnnotations()),
		Finalizers:        slices.Clone(tmeta.GetFinalizers()),
		CreationTimestamp: timestamppb.New(now),
	}
	if nameSuffix != "" {
		base := prefix
		if len(base) > maxGeneratedNameBase {
			base = base[:maxGeneratedNameBase]
		}
		meta.Name = base + nameSuffix
	}
	if ref != nil {
		meta.OwnerReferences = []*corev1.OwnerReference{proto.Clone(ref).(*corev1.OwnerReference)}
	}
	spec := &corev1.PodSpec{}
	if s := template.GetSpec(); s != nil {
		spec = proto.Clone(s).(*corev1.PodSpec)
	}
	return &corev1.Pod{
		ApiVersion: "v1",
		Kind:       "Pod",
		Metadata:   meta,
		Spec:       spec,
		Status:     &corev1.PodStatus{Phase: rankPhasePending},
	}
}

// podsPrefix is Kubernetes' getPodsPrefix: "<owner>-", or the bare owner name
// when the dash would make the prefix too long.
func podsPrefix(owner string) string {
	prefix := owner + "-"
	if len(prefix) > maxDNSSubdomainLength {
		return owner
	}
	return prefix
}
