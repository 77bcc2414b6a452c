package reconcile

import (
	"maps"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/labels"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// The simulated provisioner and the annotations Kubernetes' PV controller writes.
const (
	Provisioner             = "podwarden.io/sim-provisioner"
	AnnBindCompleted        = "pv.kubernetes.io/bind-completed"
	AnnBoundByController    = "pv.kubernetes.io/bound-by-controller"
	AnnProvisionedBy        = "pv.kubernetes.io/provisioned-by"
	AnnStorageProvisioner   = "volume.kubernetes.io/storage-provisioner"
	AnnBetaStorageProvision = "volume.beta.kubernetes.io/storage-provisioner"
	// DefaultStorageClass is the class of claims that name none (DefaultStorageClass admission).
	DefaultStorageClass = "standard"
)

// Binding is the binder's decision for one claim: the volume to create (dynamic
// provisioning) or to update (a static one taken), and the claim, Bound.
type Binding struct {
	CreateVolume *statefulsetv1.PersistentVolume
	UpdateVolume *statefulsetv1.PersistentVolume
	Claim        *statefulsetv1.PersistentVolumeClaim
}

func claimClass(c *statefulsetv1.PersistentVolumeClaim) string {
	if c.GetSpec().StorageClassName != nil {
		return c.GetSpec().GetStorageClassName()
	}
	return DefaultStorageClass
}

func request(c *statefulsetv1.PersistentVolumeClaim) *structpb.Value {
	return c.GetSpec().GetResources().GetRequests()["storage"]
}

func claimedBy(v *statefulsetv1.PersistentVolume, c *statefulsetv1.PersistentVolumeClaim) bool {
	r := v.GetSpec().GetClaimRef()
	return r != nil && r.GetNamespace() == c.GetMetadata().GetNamespace() && r.GetName() == c.GetMetadata().GetName() &&
		(r.GetUid() == "" || r.GetUid() == c.GetMetadata().GetUid())
}

// matches is the PV controller's findMatchingVolume test for a free volume: same
// class and volume mode, every requested access mode, enough capacity, the claim's
// selector.
func matches(v *statefulsetv1.PersistentVolume, c *statefulsetv1.PersistentVolumeClaim) bool {
	if v.GetMetadata().GetDeletionTimestamp() != nil || v.GetSpec().GetStorageClassName() != claimClass(c) {
		return false
	}
	if (v.GetSpec().GetVolumeMode() == "Block") != (c.GetSpec().GetVolumeMode() == "Block") {
		return false
	}
	for _, m := range c.GetSpec().GetAccessModes() {
		if !slices.Contains(v.GetSpec().GetAccessModes(), m) {
			return false
		}
	}
	want, err := defaults.Quantity(request(c))
	if err != nil {
		return false
	}
	have, err := defaults.Quantity(v.GetSpec().GetCapacity()["storage"])
	if err != nil || have.Cmp(want) < 0 {
		return false
	}
	if s := c.GetSpec().GetSelector(); s != nil {
		sel, err := labels.FromProto(s)
		if err != nil || !sel.Matches(k8slabels.Set(v.GetMetadata().GetLabels())) {
			return false
		}
	}
	return true
}

// Settled reports whether the binder has nothing to do for c: bound, or deleting.
func Settled(c *statefulsetv1.PersistentVolumeClaim) bool {
	return c.GetMetadata().GetDeletionTimestamp() != nil || (c.GetStatus().GetPhase() == "Bound" && c.GetSpec().GetVolumeName() != "")
}

// Bind decides how a pending claim gets its volume: the one it names, one already
// claimed for it (a bind interrupted half-way), the smallest matching free volume
// (static provisioning), or a new volume provisioned for it (named pvc-<claim uid>,
// the claim's class and size, reclaim policy Delete). ok is false when the claim
// needs nothing (bound, deleting) or must wait (the volume it names is taken).
func Bind(c *statefulsetv1.PersistentVolumeClaim, volumes []*statefulsetv1.PersistentVolume, now time.Time) (Binding, bool) {
	if Settled(c) {
		return Binding{}, false
	}
	var pick *statefulsetv1.PersistentVolume
	if name := c.GetSpec().GetVolumeName(); name != "" {
		for _, v := range volumes {
			if v.GetMetadata().GetName() == name {
				pick = v
			}
		}
		if pick == nil || (pick.GetSpec().GetClaimRef() != nil && !claimedBy(pick, c)) {
			return Binding{}, false
		}
	}
	if pick == nil {
		for _, v := range volumes {
			if claimedBy(v, c) && v.GetMetadata().GetDeletionTimestamp() == nil {
				pick = v
			}
		}
	}
	if pick == nil {
		var free []*statefulsetv1.PersistentVolume
		for _, v := range volumes {
			if v.GetSpec().GetClaimRef() == nil && v.GetStatus().GetPhase() != "Released" && matches(v, c) {
				free = append(free, v)
			}
		}
		sort.SliceStable(free, func(i, j int) bool {
			a, _ := defaults.Quantity(free[i].GetSpec().GetCapacity()["storage"])
			b, _ := defaults.Quantity(free[j].GetSpec().GetCapacity()["storage"])
			return a.Cmp(b) < 0
		})
		if len(free) > 0 {
			pick = free[0]
		}
	}
	var b Binding
	var v *statefulsetv1.PersistentVolume
	if pick == nil {
		v = Provision(c, now)
		b.CreateVolume = v
	} else {
		v = proto.Clone(pick).(*statefulsetv1.PersistentVolume)
		if v.Metadata.Annotations == nil {
			v.Metadata.Annotations = map[string]string{}
		}
		v.Metadata.Annotations[AnnBoundByController] = "yes"
		b.UpdateVolume = v
	}
	m := c.GetMetadata()
	v.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: m.GetNamespace(), Name: m.GetName(),
		Uid: m.GetUid(), ApiVersion: "v1", ResourceVersion: m.GetResourceVersion()}
	v.Status = &statefulsetv1.PersistentVolumeStatus{Phase: "Bound", LastPhaseTransitionTime: timestamppb.New(now.Truncate(time.Second))}

	bc := proto.Clone(c).(*statefulsetv1.PersistentVolumeClaim)
	if bc.Metadata.Annotations == nil {
		bc.Metadata.Annotations = map[string]string{}
	}
	bc.Metadata.Annotations[AnnBindCompleted] = "yes"
	if pick == nil || pick.GetMetadata().GetAnnotations()[AnnProvisionedBy] != "" {
		bc.Metadata.Annotations[AnnBoundByController] = "yes"
	}
	if pick == nil {
		bc.Metadata.Annotations[AnnStorageProvisioner] = Provisioner
		bc.Metadata.Annotations[AnnBetaStorageProvision] = Provisioner
	}
	if bc.Spec == nil {
		bc.Spec = &statefulsetv1.PersistentVolumeClaimSpec{}
	}
	bc.Spec.VolumeName = v.Metadata.Name
	bc.Status = &statefulsetv1.PersistentVolumeClaimStatus{Phase: "Bound",
		AccessModes: slices.Clone(v.Spec.AccessModes), Capacity: maps.Clone(v.Spec.Capacity)}
	b.Claim = bc
	return b, true
}

// Provision is the simulated dynamic provisioner's volume for claim c.
func Provision(c *statefulsetv1.PersistentVolumeClaim, now time.Time) *statefulsetv1.PersistentVolume {
	m := c.GetMetadata()
	name := "pvc-" + m.GetUid()
	mode := "Filesystem"
	if c.GetSpec().VolumeMode != nil {
		mode = c.GetSpec().GetVolumeMode()
	}
	return &statefulsetv1.PersistentVolume{
		ApiVersion: "v1", Kind: "PersistentVolume",
		Metadata: &corev1.ObjectMeta{Name: name, Annotations: map[string]string{AnnProvisionedBy: Provisioner}},
		Spec: &statefulsetv1.PersistentVolumeSpec{
			Capacity:                      map[string]*structpb.Value{"storage": proto.Clone(request(c)).(*structpb.Value)},
			AccessModes:                   slices.Clone(c.GetSpec().GetAccessModes()),
			PersistentVolumeReclaimPolicy: "Delete",
			StorageClassName:              claimClass(c),
			VolumeMode:                    &mode,
			HostPath: &structpb.Struct{Fields: map[string]*structpb.Value{
				"path": structpb.NewStringValue("/var/lib/podwarden/volumes/" + m.GetNamespace() + "/" + name),
				"type": structpb.NewStringValue(""),
			}},
		},
	}
}

// Reclaim is what becomes of a volume whose claim is gone (claimExists false): with
// reclaim policy Delete it is deleted; otherwise it is Released and keeps its
// claimRef until an administrator frees it. A volume without claim is left alone.
func Reclaim(v *statefulsetv1.PersistentVolume, claimExists bool, now time.Time) (remove bool, updated *statefulsetv1.PersistentVolume) {
	if v.GetSpec().GetClaimRef() == nil {
		if v.GetStatus().GetPhase() != "Available" {
			u := proto.Clone(v).(*statefulsetv1.PersistentVolume)
			u.Status = &statefulsetv1.PersistentVolumeStatus{Phase: "Available", LastPhaseTransitionTime: timestamppb.New(now.Truncate(time.Second))}
			return false, u
		}
		return false, nil
	}
	if claimExists {
		return false, nil
	}
	if v.GetSpec().GetPersistentVolumeReclaimPolicy() == "Delete" {
		return true, nil
	}
	if v.GetStatus().GetPhase() == "Released" {
		return false, nil
	}
	u := proto.Clone(v).(*statefulsetv1.PersistentVolume)
	u.Status = &statefulsetv1.PersistentVolumeStatus{Phase: "Released", LastPhaseTransitionTime: timestamppb.New(now.Truncate(time.Second))}
	return false, u
}
