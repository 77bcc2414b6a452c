package reconcile

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

func claim(class, size string) *statefulsetv1.PersistentVolumeClaim {
	return &statefulsetv1.PersistentVolumeClaim{
		Metadata: &corev1.ObjectMeta{Name: "data", Namespace: "default", Uid: "claim-uid"},
		Spec: &statefulsetv1.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"}, StorageClassName: proto.String(class),
			Resources: &corev1.ResourceRequirements{Requests: map[string]*structpb.Value{"storage": structpb.NewStringValue(size)}}},
		Status: &statefulsetv1.PersistentVolumeClaimStatus{Phase: "Pending"},
	}
}

func volume(name, class, size string, modes ...string) *statefulsetv1.PersistentVolume {
	return &statefulsetv1.PersistentVolume{
		Metadata: &corev1.ObjectMeta{Name: name, Uid: name + "-uid"},
		Spec: &statefulsetv1.PersistentVolumeSpec{StorageClassName: class, AccessModes: modes, PersistentVolumeReclaimPolicy: "Retain",
			Capacity: map[string]*structpb.Value{"storage": structpb.NewStringValue(size)}},
		Status: &statefulsetv1.PersistentVolumeStatus{Phase: "Available"},
	}
}

func TestBind(t *testing.T) {
	claimed := volume("taken", "fast", "5Gi", "ReadWriteOnce")
	claimed.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "data", Uid: "claim-uid"}
	other := volume("other", "fast", "5Gi", "ReadWriteOnce")
	other.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "else", Uid: "else-uid"}
	named := claim("fast", "1Gi")
	named.Spec.VolumeName = "big"
	namedTaken := claim("fast", "1Gi")
	namedTaken.Spec.VolumeName = "other"
	bound := claim("fast", "1Gi")
	bound.Spec.VolumeName, bound.Status.Phase = "x", "Bound"
	cases := []struct {
		name      string
		claim     *statefulsetv1.PersistentVolumeClaim
		volumes   []*statefulsetv1.PersistentVolume
		want      string // volume bound ("" = nothing to do), "new" = provisioned
		provision bool
	}{
		{"no volume: one is provisioned", claim("fast", "1Gi"), nil, "pvc-claim-uid", true},
		{"the smallest matching free volume is taken", claim("fast", "1Gi"),
			[]*statefulsetv1.PersistentVolume{volume("big", "fast", "10Gi", "ReadWriteOnce"), volume("small", "fast", "2Gi", "ReadWriteOnce", "ReadOnlyMany")}, "small", false},
		{"too small, other class, missing access mode: provisioned", claim("fast", "3Gi"),
			[]*statefulsetv1.PersistentVolume{volume("a", "fast", "2Gi", "ReadWriteOnce"), volume("b", "slow", "9Gi", "ReadWriteOnce"), volume("c", "fast", "9Gi", "ReadOnlyMany")}, "pvc-claim-uid", true},
		{"a volume already claimed for it (a bind cut short) is finished", claim("fast", "1Gi"), []*statefulsetv1.PersistentVolume{claimed}, "taken", false},
		{"a volume claimed by another claim is not taken", claim("fast", "1Gi"), []*statefulsetv1.PersistentVolume{other}, "pvc-claim-uid", true},
		{"the volume the claim names", named, []*statefulsetv1.PersistentVolume{volume("small", "fast", "2Gi", "ReadWriteOnce"), volume("big", "fast", "10Gi", "ReadWriteOnce")}, "big", false},
		{"the volume the claim names is another's: wait", namedTaken, []*statefulsetv1.PersistentVolume{other}, "", false},
		{"bound: nothing to do", bound, nil, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, ok := Bind(tc.claim, tc.volumes, Claim{Classes: []*storagev1.StorageClass{class("fast", "", "")}}, t0)
			if tc.want == "" {
				if ok {
					t.Fatalf("bound %v", b)
				}
				return
			}
			if !ok {
				t.Fatal("not bound")
			}
			v := b.UpdateVolume
			if tc.provision {
				v = b.CreateVolume
			}
			if v == nil || v.Metadata.Name != tc.want {
				t.Fatalf("volume %v, want %s", v, tc.want)
			}
			if v.Spec.ClaimRef.GetUid() != "claim-uid" || v.Status.GetPhase() != "Bound" {
				t.Fatalf("volume not bound to the claim: %v", v)
			}
			if b.Claim.Status.GetPhase() != "Bound" || b.Claim.Spec.GetVolumeName() != tc.want || b.Claim.Metadata.Annotations[AnnBindCompleted] != "yes" {
				t.Fatalf("claim %v", b.Claim)
			}
			if tc.provision && (v.Spec.StorageClassName != "fast" || v.Spec.Capacity["storage"].GetStringValue() != tc.claim.Spec.Resources.Requests["storage"].GetStringValue() ||
				v.Spec.PersistentVolumeReclaimPolicy != "Delete") {
				t.Fatalf("provisioned %v", v)
			}
		})
	}
}

func TestReclaim(t *testing.T) {
	bound := func(policy string) *statefulsetv1.PersistentVolume {
		v := volume("v", "fast", "1Gi")
		v.Spec.PersistentVolumeReclaimPolicy = policy
		v.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "data", Uid: "claim-uid"}
		v.Status.Phase = "Bound"
		return v
	}
	if remove, u := Reclaim(bound("Delete"), true, t0); remove || u != nil {
		t.Fatal("a volume whose claim exists was touched")
	}
	if remove, _ := Reclaim(bound("Delete"), false, t0); !remove {
		t.Fatal("Delete: the volume of a deleted claim stays")
	}
	if remove, u := Reclaim(bound("Retain"), false, t0); remove || u.GetStatus().GetPhase() != "Released" || u.GetSpec().GetClaimRef() == nil {
		t.Fatalf("Retain: %v %v, want Released with its claimRef", remove, u)
	}
	fresh := volume("v", "fast", "1Gi")
	fresh.Status.Phase = "Pending"
	if _, u := Reclaim(fresh, false, t0); u.GetStatus().GetPhase() != "Available" {
		t.Fatalf("a new volume without claim: %v, want Available", u)
	}
}

func TestClaimOwners(t *testing.T) {
	p := pod(set(3), 2, ready, revNew)
	policy := func(deleted, scaled string) *statefulsetv1.StatefulSet {
		return set(3, func(s *statefulsetv1.StatefulSet) {
			s.Spec.PersistentVolumeClaimRetentionPolicy = &statefulsetv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: deleted, WhenScaled: scaled}
		})
	}
	cases := []struct {
		name      string
		set       *statefulsetv1.StatefulSet
		condemned bool
		owners    []string // kinds, in order
	}{
		{"Retain/Retain: no owner", policy(Retain, Retain), true, nil},
		{"whenDeleted Delete: the StatefulSet owns it", policy(Delete, Retain), false, []string{"StatefulSet"}},
		{"whenScaled Delete, kept ordinal: no owner", policy(Retain, Delete), false, nil},
		{"whenScaled Delete, condemned ordinal: its pod owns it", policy(Retain, Delete), true, []string{"Pod"}},
		{"Delete/Delete, condemned: the pod instead of the set", policy(Delete, Delete), true, []string{"Pod"}},
		{"Delete/Delete, kept: the set", policy(Delete, Delete), false, []string{"StatefulSet"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ClaimOwners(tc.set, p, tc.condemned, nil)
			var kinds []string
			for _, o := range got {
				kinds = append(kinds, o.GetKind())
			}
			if len(kinds) != len(tc.owners) || (len(kinds) > 0 && kinds[0] != tc.owners[0]) {
				t.Fatalf("owners %v, want %v", kinds, tc.owners)
			}
			// Applying it again changes nothing; another owner is kept.
			keep := &corev1.OwnerReference{Kind: "ConfigMap", Name: "x", Uid: "x-uid"}
			again := ClaimOwners(tc.set, p, tc.condemned, append([]*corev1.OwnerReference{keep}, got...))
			if len(again) != len(got)+1 || again[0].GetUid() != "x-uid" {
				t.Fatalf("not idempotent or dropped a foreign owner: %v", again)
			}
		})
	}
}
