package reconcile

import (
	"github.com/podwarden/podwarden/shared/revisions"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// The DaemonSet's ControllerRevision history is shared/revisions; a revision's
// controller-revision-hash is the template hash.
var revisionKind = revisions.Kind{OwnerKind: "DaemonSet"}

func owner(ds *daemonsetv1.DaemonSet) revisions.Owner {
	return revisions.OwnerOf(ds.GetMetadata(), ds.GetSpec(), ds.GetStatus())
}

// TemplateOf decodes the pod template a revision restores.
func TemplateOf(cr *revisions.Revision) (*corev1.PodTemplateSpec, error) {
	return revisions.TemplateOfRevision(cr)
}

// Hash is the controller-revision-hash of ds's template.
func Hash(ds *daemonsetv1.DaemonSet) string { return revisions.Hash(owner(ds)) }

// NewRevision is snapshot's object: <ds>-<hash>, the template's labels plus the
// hash, the DaemonSet's annotations, owned by the DaemonSet.
func NewRevision(ds *daemonsetv1.DaemonSet, hash string, revision int64) *revisions.Revision {
	return revisionKind.NewRevision(owner(ds), hash, revision)
}

// HistoryPlan is constructHistory's decision; Hash is the
// controller-revision-hash new pods get.
type HistoryPlan = revisions.Plan

// PlanHistory is constructHistory (see revisions.Kind.PlanHistory).
func PlanHistory(ds *daemonsetv1.DaemonSet, revs []*revisions.Revision) HistoryPlan {
	return revisionKind.PlanHistory(owner(ds), revs)
}

// HistoryToDelete is cleanupHistory: beyond revisionHistoryLimit, the oldest
// revisions no live pod still uses.
func HistoryToDelete(ds *daemonsetv1.DaemonSet, old []*revisions.Revision, pods []*corev1.Pod) []*revisions.Revision {
	return revisionKind.HistoryToDelete(owner(ds), old, pods)
}

// HistoryEntry is one entry of `kubectl rollout history daemonset`.
func HistoryEntry(e revisions.Entry) *daemonsetv1.DaemonSetRevision {
	return &daemonsetv1.DaemonSetRevision{Revision: e.Revision, ChangeCause: e.ChangeCause, ControllerRevisionName: e.Name, Template: e.Template}
}

// PlanRollback decides `kubectl rollout undo daemonset`.
func PlanRollback(ds *daemonsetv1.DaemonSet, revs []*revisions.Revision, toRevision int64) (revisions.Rollback, error) {
	return revisions.PlanRollback(ds.GetSpec().GetTemplate(), revs, toRevision)
}
