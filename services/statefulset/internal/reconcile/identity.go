// Package reconcile holds the statefulset controller's decisions as pure functions:
// pod identity and storage, the ordering planner, the status, revisions and
// rollout status. No database, no bus.
package reconcile

import (
	"maps"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/podview"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// Labels and annotations of Kubernetes' StatefulSet controller.
const (
	HashLabel             = "controller-revision-hash"
	PodNameLabel          = "statefulset.kubernetes.io/pod-name"
	PodIndexLabel         = "apps.kubernetes.io/pod-index"
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
)

// Strategy and policy names.
const (
	RollingUpdate = "RollingUpdate"
	OnDelete      = "OnDelete"
	OrderedReady  = "OrderedReady"
	Parallel      = "Parallel"
	Retain        = "Retain"
	Delete        = "Delete"
)

// PodName is <set>-<ordinal>.
func PodName(set *statefulsetv1.StatefulSet, ordinal int) string {
	return set.GetMetadata().GetName() + "-" + strconv.Itoa(ordinal)
}

// ClaimName is <template>-<set>-<ordinal>.
func ClaimName(tmpl *statefulsetv1.PersistentVolumeClaim, set *statefulsetv1.StatefulSet, ordinal int) string {
	return tmpl.GetMetadata().GetName() + "-" + PodName(set, ordinal)
}

// parentAndOrdinal splits a name as Kubernetes' `^(.*)-([0-9]+)$` does (its
// getParentNameAndOrdinal), without a regexp (it ran on every pod of every sync):
// ok false when the name does not end in -<digits>.
func parentAndOrdinal(name string) (parent, digits string, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 {
		return "", "", false
	}
	for _, r := range name[i+1:] {
		if r < '0' || r > '9' {
			return "", "", false
		}
	}
	return name[:i], name[i+1:], true
}

// Ordinal is the ordinal a pod's name carries, -1 when it has none.
func Ordinal(p *corev1.Pod) int {
	_, digits, ok := parentAndOrdinal(p.GetMetadata().GetName())
	if !ok {
		return -1
	}
	o, err := strconv.Atoi(digits)
	if err != nil {
		return -1
	}
	return o
}

// IsMemberOf reports whether p's name is one of set's: <set>-<ordinal>.
func IsMemberOf(set *statefulsetv1.StatefulSet, p *corev1.Pod) bool {
	parent, _, ok := parentAndOrdinal(p.GetMetadata().GetName())
	return ok && parent == set.GetMetadata().GetName()
}

// StartOrdinal is spec.ordinals.start (0 by default).
func StartOrdinal(set *statefulsetv1.StatefulSet) int {
	return int(set.GetSpec().GetOrdinals().GetStart())
}

// Replicas is spec.replicas (1 when unset).
func Replicas(set *statefulsetv1.StatefulSet) int {
	if r := set.GetSpec().Replicas; r != nil {
		return int(*r)
	}
	return 1
}

// Revision of a pod: its controller-revision-hash label.
func Revision(p *corev1.Pod) string { return p.GetMetadata().GetLabels()[HashLabel] }

// NewPod is newVersionedStatefulSetPod's newStatefulSetPod: the pod of ordinal built
// from set's template (set is the StatefulSet at the revision the pod gets), with
// its identity, its claims mounted and the revision label.
func NewPod(set *statefulsetv1.StatefulSet, ordinal int, revision string) *corev1.Pod {
	t := set.GetSpec().GetTemplate()
	m := set.GetMetadata()
	p := &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &corev1.ObjectMeta{
			Namespace:       m.GetNamespace(),
			Labels:          maps.Clone(t.GetMetadata().GetLabels()),
			Annotations:     maps.Clone(t.GetMetadata().GetAnnotations()),
			Finalizers:      append([]string(nil), t.GetMetadata().GetFinalizers()...),
			OwnerReferences: []*corev1.OwnerReference{podview.ControllerRefTo("apps/v1", "StatefulSet", m)},
		},
		Spec: proto.Clone(t.GetSpec()).(*corev1.PodSpec),
	}
	if p.Spec == nil {
		p.Spec = &corev1.PodSpec{}
	}
	p.Metadata.Name = PodName(set, ordinal)
	if p.Metadata.Labels == nil {
		p.Metadata.Labels = map[string]string{}
	}
	p.Metadata.Labels[HashLabel] = revision
	initIdentity(set, p, ordinal)
	updateStorage(set, p, ordinal)
	return p
}

// initIdentity is Kubernetes' initIdentity + updateIdentity: hostname, subdomain and
// the identity labels.
func initIdentity(set *statefulsetv1.StatefulSet, p *corev1.Pod, ordinal int) {
	p.Spec.Hostname = p.Metadata.Name
	p.Spec.Subdomain = set.GetSpec().GetServiceName()
	if p.Metadata.Labels == nil {
		p.Metadata.Labels = map[string]string{}
	}
	p.Metadata.Labels[PodNameLabel] = p.Metadata.Name
	p.Metadata.Labels[PodIndexLabel] = strconv.Itoa(ordinal)
}

// updateStorage mounts each volumeClaimTemplate's claim as the pod volume of the
// template's name (replacing a template volume of that name, as Kubernetes does).
func updateStorage(set *statefulsetv1.StatefulSet, p *corev1.Pod, ordinal int) {
	tmpls := set.GetSpec().GetVolumeClaimTemplates()
	if len(tmpls) == 0 {
		return
	}
	byName := map[string]bool{}
	var vols []*corev1.Volume
	for _, t := range tmpls {
		byName[t.GetMetadata().GetName()] = true
		vols = append(vols, &corev1.Volume{Name: t.GetMetadata().GetName(),
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: ClaimName(t, set, ordinal)}})
	}
	for _, v := range p.Spec.Volumes {
		if !byName[v.GetName()] {
			vols = append(vols, v)
		}
	}
	p.Spec.Volumes = vols
}

// IdentityMatches is Kubernetes' identityMatches: the pod is named for its ordinal
// in set, with set's subdomain and the identity labels.
func IdentityMatches(set *statefulsetv1.StatefulSet, p *corev1.Pod) bool {
	o := Ordinal(p)
	l := p.GetMetadata().GetLabels()
	return o >= 0 && IsMemberOf(set, p) && p.GetMetadata().GetNamespace() == set.GetMetadata().GetNamespace() &&
		l[PodNameLabel] == p.GetMetadata().GetName() && l[PodIndexLabel] == strconv.Itoa(o)
}

// FixIdentity returns a copy of p with its identity labels restored (the pod's spec,
// hostname included, is immutable once created, as in Kubernetes).
func FixIdentity(p *corev1.Pod) *corev1.Pod {
	c := proto.Clone(p).(*corev1.Pod)
	if c.Metadata.Labels == nil {
		c.Metadata.Labels = map[string]string{}
	}
	c.Metadata.Labels[PodNameLabel] = c.Metadata.Name
	c.Metadata.Labels[PodIndexLabel] = strconv.Itoa(Ordinal(p))
	return c
}

// NewClaim is the claim of template t for ordinal: the template with the claim's
// name, set's selector labels added, Pending. A template that names no class
// makes a claim without one: the binder gives it the default class, as the
// DefaultStorageClass admission would have on a claim created through the API.
func NewClaim(set *statefulsetv1.StatefulSet, t *statefulsetv1.PersistentVolumeClaim, ordinal int) *statefulsetv1.PersistentVolumeClaim {
	c := proto.Clone(t).(*statefulsetv1.PersistentVolumeClaim)
	c.ApiVersion, c.Kind = "v1", "PersistentVolumeClaim"
	if c.Spec == nil {
		c.Spec = &statefulsetv1.PersistentVolumeClaimSpec{}
	}
	c.Metadata = &corev1.ObjectMeta{
		Name: ClaimName(t, set, ordinal), Namespace: set.GetMetadata().GetNamespace(),
		Labels: maps.Clone(c.Metadata.GetLabels()), Annotations: maps.Clone(c.Metadata.GetAnnotations()),
	}
	if c.Metadata.Labels == nil {
		c.Metadata.Labels = map[string]string{}
	}
	maps.Copy(c.Metadata.Labels, set.GetSpec().GetSelector().GetMatchLabels())
	c.Status = &statefulsetv1.PersistentVolumeClaimStatus{Phase: "Pending"}
	return c
}
