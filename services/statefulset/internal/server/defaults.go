package server

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/services/statefulset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/defaults"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// Values of StatefulSet and storage fields, as Kubernetes names them.
const (
	podManagementOrderedReady = "OrderedReady"
	podManagementParallel     = "Parallel"
	strategyRollingUpdate     = "RollingUpdate"
	strategyOnDelete          = "OnDelete"
	retentionRetain           = "Retain"
	retentionDelete           = "Delete"
	volumeModeFilesystem      = "Filesystem"
	volumeModeBlock           = "Block"
	reclaimRetain             = "Retain"
	reclaimDelete             = "Delete"
	reclaimRecycle            = "Recycle"
	claimPending              = "Pending"
	claimBound                = "Bound"
	volumePending             = "Pending"

	// betaStorageClassAnnotation is the storage class of claims and volumes
	// made before storageClassName existed; Kubernetes still honours it.
	betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"
)

// DefaultStorageClass is the class podwarden makes at start, marked default, which
// the DefaultStorageClass admission gives a claim that asks for none (kind and
// minikube call theirs "standard" too).
const DefaultStorageClass = reconcile.DefaultStorageClass

// defaultStatefulSet is apps/v1 SetDefaults_StatefulSet plus the generated
// defaulters it triggers, so a stored StatefulSet reads back as `kubectl get
// sts -o yaml` shows it:
//   - podManagementPolicy OrderedReady; replicas 1; revisionHistoryLimit 10;
//   - updateStrategy type RollingUpdate; when the type was defaulted, an empty
//     rollingUpdate is added; a RollingUpdate strategy's rollingUpdate (if any)
//     gets partition 0 and maxUnavailable 1 (the MaxUnavailableStatefulSet
//     gate is beta and on by default since Kubernetes 1.35; OnDelete, or
//     RollingUpdate given without rollingUpdate, stays as given);
//   - persistentVolumeClaimRetentionPolicy whenDeleted and whenScaled Retain;
//   - the pod template's defaults (defaults.DefaultPodTemplateSpec);
//   - each volumeClaimTemplate: apiVersion v1, kind PersistentVolumeClaim
//     (kube-apiserver writes both), then defaultPVC (volumeMode Filesystem,
//     status.phase Pending). storageClassName stays unset: the
//     DefaultStorageClass admission applies to the claims the controller
//     creates, not to the templates.
func defaultStatefulSet(ss *statefulsetv1.StatefulSet) {
	if ss.Spec == nil {
		ss.Spec = &statefulsetv1.StatefulSetSpec{}
	}
	s := ss.Spec
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = podManagementOrderedReady
	}
	if s.UpdateStrategy == nil {
		s.UpdateStrategy = &statefulsetv1.StatefulSetUpdateStrategy{}
	}
	st := s.UpdateStrategy
	if st.Type == "" {
		st.Type = strategyRollingUpdate
		if st.RollingUpdate == nil {
			st.RollingUpdate = &statefulsetv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := st.RollingUpdate; st.Type == strategyRollingUpdate && ru != nil {
		if ru.Partition == nil {
			ru.Partition = proto.Int32(0)
		}
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = structpb.NewNumberValue(1)
		}
	}
	if s.PersistentVolumeClaimRetentionPolicy == nil {
		s.PersistentVolumeClaimRetentionPolicy = &statefulsetv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if p := s.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted == "" {
		p.WhenDeleted = retentionRetain
	}
	if p := s.PersistentVolumeClaimRetentionPolicy; p.WhenScaled == "" {
		p.WhenScaled = retentionRetain
	}
	if s.Replicas == nil {
		s.Replicas = proto.Int32(1)
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = proto.Int32(10)
	}
	if s.Template == nil {
		s.Template = &corev1.PodTemplateSpec{}
	}
	defaults.DefaultPodTemplateSpec(s.Template)
	for _, c := range s.VolumeClaimTemplates {
		if c == nil {
			continue
		}
		defaults.DefaultTypeMeta(&c.ApiVersion, &c.Kind, "v1", "PersistentVolumeClaim")
		defaultPVC(c)
	}
}

// defaultPVC is core/v1 SetDefaults_PersistentVolumeClaim and
// SetDefaults_PersistentVolumeClaimSpec: volumeMode Filesystem and
// status.phase Pending, with the request and limit quantities in canonical
// form. storageClassName is left as given (see admitStorageClass).
func defaultPVC(pvc *statefulsetv1.PersistentVolumeClaim) {
	if pvc.Spec == nil {
		pvc.Spec = &statefulsetv1.PersistentVolumeClaimSpec{}
	}
	if pvc.Spec.VolumeMode == nil {
		pvc.Spec.VolumeMode = proto.String(volumeModeFilesystem)
	}
	if r := pvc.Spec.Resources; r != nil {
		defaults.NormalizeQuantities(r.Requests)
		defaults.NormalizeQuantities(r.Limits)
	}
	if pvc.Status == nil {
		pvc.Status = &statefulsetv1.PersistentVolumeClaimStatus{}
	}
	if pvc.Status.Phase == "" {
		pvc.Status.Phase = claimPending
	}
}

// admitStorageClass is the DefaultStorageClass admission plugin: a claim that
// asks for no class (storageClassName unset and no beta storage-class
// annotation) gets the default class def (none when def is ""). An explicit ""
// means "no class" and is kept, as in Kubernetes. Kubernetes runs it on create only.
func admitStorageClass(pvc *statefulsetv1.PersistentVolumeClaim, def string) {
	if pvc.Spec == nil {
		pvc.Spec = &statefulsetv1.PersistentVolumeClaimSpec{}
	}
	if pvc.Spec.StorageClassName != nil || def == "" {
		return
	}
	if _, ok := pvc.GetMetadata().GetAnnotations()[betaStorageClassAnnotation]; ok {
		return
	}
	pvc.Spec.StorageClassName = proto.String(def)
}

// defaultPV is core/v1 SetDefaults_PersistentVolume and the defaults of its
// sources: persistentVolumeReclaimPolicy Retain (what a hand-made volume gets;
// a provisioned one carries its class's policy), volumeMode Filesystem,
// status.phase Pending, hostPath type "", capacity in canonical form.
func defaultPV(pv *statefulsetv1.PersistentVolume) {
	if pv.Spec == nil {
		pv.Spec = &statefulsetv1.PersistentVolumeSpec{}
	}
	s := pv.Spec
	if s.PersistentVolumeReclaimPolicy == "" {
		s.PersistentVolumeReclaimPolicy = reclaimRetain
	}
	if s.VolumeMode == nil {
		s.VolumeMode = proto.String(volumeModeFilesystem)
	}
	defaults.NormalizeQuantities(s.Capacity)
	if hp := s.HostPath; hp != nil {
		if hp.Fields == nil {
			hp.Fields = map[string]*structpb.Value{}
		}
		if _, ok := hp.Fields["type"]; !ok {
			hp.Fields["type"] = structpb.NewStringValue("")
		}
	}
	if pv.Status == nil {
		pv.Status = &statefulsetv1.PersistentVolumeStatus{}
	}
	if pv.Status.Phase == "" {
		pv.Status.Phase = volumePending
	}
}
