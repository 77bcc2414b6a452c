// Package kinds names the object kinds the statefulset service stores in its schema.
package kinds

import (
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"

	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

// The stored kinds. Pods are this service's view of the StatefulSets' pods (written
// when it asks for them, then updated from the node service's pod events); claims
// and volumes are owned here (the PVC binder is part of this service).
var (
	StatefulSets = store.Kind[*statefulsetv1.StatefulSet]{Name: "StatefulSet", Watch: true,
		New: func() *statefulsetv1.StatefulSet { return &statefulsetv1.StatefulSet{} }}
	// ControllerRevisions are the history (shared/revisions).
	ControllerRevisions = revisions.Store
	Claims              = store.Kind[*statefulsetv1.PersistentVolumeClaim]{Name: "PersistentVolumeClaim", Watch: true,
		New: func() *statefulsetv1.PersistentVolumeClaim { return &statefulsetv1.PersistentVolumeClaim{} }}
	Volumes = store.Kind[*statefulsetv1.PersistentVolume]{Name: "PersistentVolume", Watch: true,
		New: func() *statefulsetv1.PersistentVolume { return &statefulsetv1.PersistentVolume{} }}
	// Pods is the pod view (shared/podview).
	Pods = podview.Pods
)

// StorageClasses are storage.k8s.io/v1 StorageClasses: kept with the claims and
// volumes the binder provisions from them, so a binding reads them in its own
// transaction and the DefaultStorageClass admission from its own cache.
var StorageClasses = store.Kind[*storagev1.StorageClass]{Name: "StorageClass", Watch: true,
	New: func() *storagev1.StorageClass { return &storagev1.StorageClass{} }}
