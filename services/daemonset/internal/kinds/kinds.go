// Package kinds names the object kinds the daemonset service stores in its schema.
package kinds

import (
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"

	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// The stored kinds. Pods are this service's view of the daemon pods (written when
// it asks for them, then updated from the node service's pod events); Nodes are its
// view of the fleet, fed by the node service's node events (in the change log, so the
// controller's node cache follows it, but quiet: who writes nodes kicks the feed).
var (
	DaemonSets = store.Kind[*daemonsetv1.DaemonSet]{Name: "DaemonSet", Watch: true,
		New: func() *daemonsetv1.DaemonSet { return &daemonsetv1.DaemonSet{} }}
	// ControllerRevisions are the history (shared/revisions).
	ControllerRevisions = revisions.Store
	Pods                = podview.Pods
	Nodes               = store.Kind[*nodev1.Node]{Name: "Node", Watch: true, Quiet: true,
		New: func() *nodev1.Node { return &nodev1.Node{} }}
)
