package reconcile

import (
	"sort"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

// StorageClass annotations and values, as Kubernetes names them.
const (
	AnnDefaultClass     = "storageclass.kubernetes.io/is-default-class"
	AnnBetaDefaultClass = "storageclass.beta.kubernetes.io/is-default-class"
	AnnSelectedNode     = "volume.kubernetes.io/selected-node"
	// AnnBetaStorageClass is the class of claims made before storageClassName existed.
	AnnBetaStorageClass = "volume.beta.kubernetes.io/storage-class"

	BindingImmediate            = "Immediate"
	BindingWaitForFirstConsumer = "WaitForFirstConsumer"
	ReclaimDelete               = "Delete"
	ReclaimRetain               = "Retain"
)

// IsDefaultClass is storageutil.IsDefaultAnnotation: the class is annotated as the
// cluster's default (the GA annotation, or the beta one).
func IsDefaultClass(sc *storagev1.StorageClass) bool {
	a := sc.GetMetadata().GetAnnotations()
	return a[AnnDefaultClass] == "true" || a[AnnBetaDefaultClass] == "true"
}

// DefaultClass is the DefaultStorageClass admission's choice (storageutil.GetDefaultClass):
// among the classes marked default, the newest; on a tie, the first by name. "" when
// no class is marked default.
func DefaultClass(classes []*storagev1.StorageClass) string {
	var defaults []*storagev1.StorageClass
	for _, sc := range classes {
		if IsDefaultClass(sc) && sc.GetMetadata().GetDeletionTimestamp() == nil {
			defaults = append(defaults, sc)
		}
	}
	if len(defaults) == 0 {
		return ""
	}
	sort.Slice(defaults, func(i, j int) bool {
		ti, tj := defaults[i].GetMetadata().GetCreationTimestamp().AsTime(), defaults[j].GetMetadata().GetCreationTimestamp().AsTime()
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return defaults[i].GetMetadata().GetName() < defaults[j].GetMetadata().GetName()
	})
	return defaults[0].GetMetadata().GetName()
}

// ReclaimPolicy is the reclaim policy of the volumes a class provisions (Delete when unset).
func ReclaimPolicy(sc *storagev1.StorageClass) string {
	if p := sc.GetReclaimPolicy(); p != "" {
		return p
	}
	return ReclaimDelete
}

// WaitsForConsumer reports whether a class binds its claims only once a pod using
// them is scheduled (volumeBindingMode WaitForFirstConsumer).
func WaitsForConsumer(sc *storagev1.StorageClass) bool {
	return sc.GetVolumeBindingMode() == BindingWaitForFirstConsumer
}

// ClaimWaitsForConsumer reports whether Bind may ask for the claim's consumer node:
// its class (among classes) binds at the first consumer. A claim without a class gets
// the default class first.
func ClaimWaitsForConsumer(c *statefulsetv1.PersistentVolumeClaim, classes []*storagev1.StorageClass) bool {
	name := claimClass(c)
	for _, sc := range classes {
		if name != "" && sc.GetMetadata().GetName() == name {
			return WaitsForConsumer(sc)
		}
	}
	return false
}

// ConsumerNode is the node of the first scheduled, non-terminal pod that mounts the
// claim (the scheduler's selected node of a WaitForFirstConsumer claim); "" when
// no such pod is scheduled yet.
func ConsumerNode(c *statefulsetv1.PersistentVolumeClaim, pods []*corev1.Pod) string {
	ns, name := c.GetMetadata().GetNamespace(), c.GetMetadata().GetName()
	best := ""
	for _, p := range pods {
		if p.GetMetadata().GetNamespace() != ns || p.GetSpec().GetNodeName() == "" || p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		if ph := p.GetStatus().GetPhase(); ph == "Succeeded" || ph == "Failed" {
			continue
		}
		for _, v := range p.GetSpec().GetVolumes() {
			if v.GetPersistentVolumeClaim().GetClaimName() == name && (best == "" || p.GetSpec().GetNodeName() < best) {
				best = p.GetSpec().GetNodeName()
			}
		}
	}
	return best
}
