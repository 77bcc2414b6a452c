package reconcile

import (
	"fmt"
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
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

// The simulated provisioner and the annotations Kubernetes' PV controller writes.
const (
	Provisioner             = "podwarden.io/simulated"
	AnnBindCompleted        = "pv.kubernetes.io/bind-completed"
	AnnBoundByController    = "pv.kubernetes.io/bound-by-controller"
	AnnProvisionedBy        = "pv.kubernetes.io/provisioned-by"
	AnnStorageProvisioner   = "volume.kubernetes.io/storage-provisioner"
	AnnBetaStorageProvision = "volume.beta.kubernetes.io/storage-provisioner"
	// DefaultStorageClass is the class podwarden makes at start, marked default.
	DefaultStorageClass = "standard"
)

// Binding is the binder's decision for one claim: the volume to create (dynamic
// provisioning) or to update (a static one taken), and the claim to write (Bound,
// or given the default class); the events to record on the claim. A claim that
// must wait gets only events.
type Binding struct {
	CreateVolume *statefulsetv1.PersistentVolume
	UpdateVolume *statefulsetv1.PersistentVolume
	Claim        *statefulsetv1.PersistentVolumeClaim
	Events       []Event
}

// claimClass is the class a claim asks for (storageClassName, else the beta
// annotation); "" is no class.
func claimClass(c *statefulsetv1.PersistentVolumeClaim) string {
	if c.GetSpec().StorageClassName != nil {
		return c.GetSpec().GetStorageClassName()
	}
	return c.GetMetadata().GetAnnotations()[AnnBetaStorageClass]
}

// classUnset reports whether the claim names no class at all (nil storageClassName,
// no beta annotation): the retroactive default-class assignment applies to it.
func classUnset(c *statefulsetv1.PersistentVolumeClaim) bool {
	_, beta := c.GetMetadata().GetAnnotations()[AnnBetaStorageClass]
	return c.GetSpec().StorageClassName == nil && !beta
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

// Claim is what the binder knows about one pending claim besides the volumes: the
// storage classes, and the node of the first scheduled pod that mounts it ("" when
// none is scheduled yet).
type Claim struct {
	Classes      []*storagev1.StorageClass
	ConsumerNode string
}

// Bind is the PersistentVolume controller's decision for a pending claim
// (pkg/controller/volume/persistentvolume syncUnboundClaim and provisionClaim):
//   - a claim that names no class gets the default class (the retroactive
//     default-class assignment), and is bound on the next pass;
//   - a claim of a WaitForFirstConsumer class waits until a pod that mounts it is
//     scheduled (event WaitForFirstConsumer), then is annotated with that node;
//   - it takes the volume it names, one already claimed for it (a bind interrupted
//     half-way), or the smallest matching free volume (static provisioning);
//   - else its class provisions a volume for it (named pvc-<claim uid>, the claim's
//     size, the class's reclaim policy and mount options): a class that does not
//     exist is the event ProvisioningFailed, a claim without class waits for a
//     volume made by hand (event FailedBinding).
//
// ok is false when the claim needs nothing (bound, deleting) or waits silently
// (the volume it names is taken).
func Bind(c *statefulsetv1.PersistentVolumeClaim, volumes []*statefulsetv1.PersistentVolume, in Claim, now time.Time) (Binding, bool) {
	if Settled(c) {
		return Binding{}, false
	}
	if classUnset(c) {
		if def := DefaultClass(in.Classes); def != "" {
			bc := proto.Clone(c).(*statefulsetv1.PersistentVolumeClaim)
			if bc.Spec == nil {
				bc.Spec = &statefulsetv1.PersistentVolumeClaimSpec{}
			}
			bc.Spec.StorageClassName = proto.String(def)
			return Binding{Claim: bc}, true
		}
	}
	className := claimClass(c)
	var class *storagev1.StorageClass
	for _, sc := range in.Classes {
		if sc.GetMetadata().GetName() == className && className != "" {
			class = sc
		}
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
	node := c.GetMetadata().GetAnnotations()[AnnSelectedNode]
	if pick == nil && WaitsForConsumer(class) && node == "" {
		if in.ConsumerNode == "" {
			return Binding{Events: []Event{{Type: "Normal", Reason: "WaitForFirstConsumer",
				Message: "waiting for first consumer to be created before binding"}}}, true
		}
		node = in.ConsumerNode
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
	switch {
	case pick != nil:
		v = proto.Clone(pick).(*statefulsetv1.PersistentVolume)
		if v.Metadata.Annotations == nil {
			v.Metadata.Annotations = map[string]string{}
		}
		v.Metadata.Annotations[AnnBoundByController] = "yes"
		b.UpdateVolume = v
	case className == "":
		return Binding{Events: []Event{{Type: "Normal", Reason: "FailedBinding",
			Message: "no persistent volumes available for this claim and no storage class is set"}}}, true
	case class == nil:
		return Binding{Events: []Event{{Type: "Warning", Reason: "ProvisioningFailed",
			Message: fmt.Sprintf("storageclass.storage.k8s.io %q not found", className)}}}, true
	default:
		v = Provision(c, class, now)
		b.CreateVolume = v
		b.Events = []Event{{Type: "Normal", Reason: "ProvisioningSucceeded",
			Message: fmt.Sprintf("Successfully provisioned volume %s using %s", v.Metadata.Name, class.GetProvisioner())}}
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
		bc.Metadata.Annotations[AnnStorageProvisioner] = class.GetProvisioner()
		bc.Metadata.Annotations[AnnBetaStorageProvision] = class.GetProvisioner()
		if node != "" {
			bc.Metadata.Annotations[AnnSelectedNode] = node
		}
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

// Provision is the simulated dynamic provisioner's volume for claim c of class sc
// (every class is served, whatever its provisioner).
func Provision(c *statefulsetv1.PersistentVolumeClaim, sc *storagev1.StorageClass, now time.Time) *statefulsetv1.PersistentVolume {
	m := c.GetMetadata()
	name := "pvc-" + m.GetUid()
	mode := "Filesystem"
	if c.GetSpec().VolumeMode != nil {
		mode = c.GetSpec().GetVolumeMode()
	}
	return &statefulsetv1.PersistentVolume{
		ApiVersion: "v1", Kind: "PersistentVolume",
		Metadata: &corev1.ObjectMeta{Name: name, Annotations: map[string]string{AnnProvisionedBy: sc.GetProvisioner()}},
		Spec: &statefulsetv1.PersistentVolumeSpec{
			Capacity:                      map[string]*structpb.Value{"storage": proto.Clone(request(c)).(*structpb.Value)},
			AccessModes:                   slices.Clone(c.GetSpec().GetAccessModes()),
			PersistentVolumeReclaimPolicy: ReclaimPolicy(sc),
			StorageClassName:              sc.GetMetadata().GetName(),
			MountOptions:                  slices.Clone(sc.GetMountOptions()),
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
