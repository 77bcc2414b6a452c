package revisions

import (
	"github.com/podwarden/podwarden/shared/store"

	appsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/apps/v1"
)

// Store is the stored ControllerRevision kind, the same in the schema of every
// service that keeps a history (daemonset, statefulset).
var Store = store.Kind[*Revision]{Name: "ControllerRevision", Watch: true,
	New: func() *appsv1.ControllerRevision { return &appsv1.ControllerRevision{} }}
