package reconcile

import (
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/shared/revisions"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// The DaemonSet's ControllerRevision history is shared/revisions over
// daemonsetv1.ControllerRevision; a revision's controller-revision-hash is the
// template hash.
var revisionKind = revisions.Kind[*daemonsetv1.ControllerRevision]{
	OwnerKind: "DaemonSet",
	New: func(meta *corev1.ObjectMeta, data *structpb.Struct, revision int64) *daemonsetv1.ControllerRevision {
		return &daemonsetv1.ControllerRevision{ApiVersion: "apps/v1", Kind: "ControllerRevision", Metadata: meta, Data: data, Revision: revision}
	},
	SetRevision: func(cr *daemonsetv1.ControllerRevision, revision int64) { cr.Revision = revision },
}

func owner(ds *daemonsetv1.DaemonSet) revisions.Owner {
	return revisions.OwnerOf(ds.GetMetadata(), ds.GetSpec(), ds.GetStatus())
}

// TemplateOf decodes the pod template a revision restores.
func TemplateOf(cr *daemonsetv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	return revisions.TemplateOfRevision(cr)
}

// Hash is the controller-revision-hash of ds's template.
func Hash(ds *daemonsetv1.DaemonSet) string { return revisions.Hash(owner(ds)) }

// NewRevision is snapshot's object: <ds>-<hash>, the template's labels plus the
// hash, the DaemonSet's annotations, owned by the DaemonSet.
func NewRevision(ds *daemonsetv1.DaemonSet, hash string, revision int64) *daemonsetv1.ControllerRevision {
	return revisionKind.NewRevision(owner(ds), hash, revision)
}

// HistoryPlan is constructHistory's decision; Hash is the
// controller-revision-hash new pods get.
type HistoryPlan = revisions.Plan[*daemonsetv1.ControllerRevision]

// PlanHistory is constructHistory (see revisions.Kind.PlanHistory).
func PlanHistory(ds *daemonsetv1.DaemonSet, revs []*daemonsetv1.ControllerRevision) HistoryPlan {
	return revisionKind.PlanHistory(owner(ds), revs)
}

// HistoryToDelete is cleanupHistory: beyond revisionHistoryLimit, the oldest
// revisions no live pod still uses.
func HistoryToDelete(ds *daemonsetv1.DaemonSet, old []*daemonsetv1.ControllerRevision, pods []*corev1.Pod) []*daemonsetv1.ControllerRevision {
	return revisionKind.HistoryToDelete(owner(ds), old, pods)
}

// History is `kubectl rollout history daemonset`: one entry per revision, oldest first.
func History(revs []*daemonsetv1.ControllerRevision) []*daemonsetv1.DaemonSetRevision {
	return revisions.History(revs, func(e revisions.Entry) *daemonsetv1.DaemonSetRevision {
		return &daemonsetv1.DaemonSetRevision{Revision: e.Revision, ChangeCause: e.ChangeCause, ControllerRevisionName: e.Name, Template: e.Template}
	})
}

// ErrRevisionNotFound is kubectl's error for a revision no ControllerRevision carries.
var ErrRevisionNotFound = revisions.ErrRevisionNotFound

// PlanRollback decides `kubectl rollout undo daemonset`.
func PlanRollback(ds *daemonsetv1.DaemonSet, revs []*daemonsetv1.ControllerRevision, toRevision int64) (revisions.Rollback, error) {
	return revisions.PlanRollback(ds.GetSpec().GetTemplate(), revs, toRevision)
}
