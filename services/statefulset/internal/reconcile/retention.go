package reconcile

import (
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

func policy(set *statefulsetv1.StatefulSet) *statefulsetv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	if p := set.GetSpec().GetPersistentVolumeClaimRetentionPolicy(); p != nil {
		return p
	}
	return &statefulsetv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: Retain, WhenScaled: Retain}
}

func setOwner(set *statefulsetv1.StatefulSet) *corev1.OwnerReference {
	return podutil.NewControllerRef(set.GetMetadata(), "apps/v1", "StatefulSet")
}

func podOwner(p *corev1.Pod) *corev1.OwnerReference {
	m := p.GetMetadata()
	return &corev1.OwnerReference{ApiVersion: "v1", Kind: "Pod", Name: m.GetName(), Uid: m.GetUid()}
}

// ClaimOwners is updateClaimOwnerRefForSetAndPod: the ownerReferences that carry the
// persistentVolumeClaimRetentionPolicy, for the claim of pod p (condemned: its
// ordinal is being scaled away). The garbage collector deletes a claim once every
// owner is gone: whenDeleted=Delete makes the StatefulSet an owner; whenScaled=Delete
// makes a condemned pod the owner. Other owners of the claim are kept.
func ClaimOwners(set *statefulsetv1.StatefulSet, p *corev1.Pod, condemned bool, current []*corev1.OwnerReference) []*corev1.OwnerReference {
	pol := policy(set)
	wantSet := pol.GetWhenDeleted() == Delete && !(pol.GetWhenScaled() == Delete && condemned)
	wantPod := pol.GetWhenScaled() == Delete && condemned && p != nil && p.GetMetadata().GetUid() != ""
	var out []*corev1.OwnerReference
	for _, o := range current {
		switch {
		case o.GetUid() == set.GetMetadata().GetUid() && !wantSet:
		case o.GetKind() == "Pod" && o.GetName() == p.GetMetadata().GetName() && !(wantPod && o.GetUid() == p.GetMetadata().GetUid()):
		default:
			out = append(out, o)
		}
	}
	has := func(uid string) bool {
		for _, o := range out {
			if o.GetUid() == uid {
				return true
			}
		}
		return false
	}
	if wantSet && !has(set.GetMetadata().GetUid()) {
		out = append(out, setOwner(set))
	}
	if wantPod && !has(p.GetMetadata().GetUid()) {
		out = append(out, podOwner(p))
	}
	return out
}

func sameOwners(a, b []*corev1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// retention lists the existing claims whose retention owners must change.
func retention(in Input, replicas, condemned []*corev1.Pod) []*statefulsetv1.PersistentVolumeClaim {
	set := in.Set
	var out []*statefulsetv1.PersistentVolumeClaim
	check := func(p *corev1.Pod, ordinal int, isCondemned bool) {
		for _, t := range set.GetSpec().GetVolumeClaimTemplates() {
			c, ok := in.Claims[ClaimName(t, set, ordinal)]
			if !ok || c.GetMetadata().GetDeletionTimestamp() != nil {
				continue
			}
			owners := ClaimOwners(set, p, isCondemned, c.GetMetadata().GetOwnerReferences())
			if sameOwners(owners, c.GetMetadata().GetOwnerReferences()) {
				continue
			}
			u := proto.Clone(c).(*statefulsetv1.PersistentVolumeClaim)
			u.Metadata.OwnerReferences = owners
			out = append(out, u)
		}
	}
	start := StartOrdinal(set)
	for i, p := range replicas {
		if p != nil {
			check(p, start+i, false)
		}
	}
	for _, p := range condemned {
		check(p, Ordinal(p), true)
	}
	return out
}
