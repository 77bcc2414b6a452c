// Package kinds names the object kinds the statefulset service stores in its schema.
package kinds

import (
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"

	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
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
