package reconcile

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/revisions"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// The StatefulSet's ControllerRevision history is shared/revisions; a
// revision's controller-revision-hash is its name <set>-<hash>, the value a
// StatefulSet's pods carry.
var revisionKind = revisions.Kind{OwnerKind: "StatefulSet", LabelIsName: true}

func owner(set *statefulsetv1.StatefulSet) revisions.Owner {
	return revisions.OwnerOf(set.GetMetadata(), set.GetSpec(), set.GetStatus())
}

// TemplateOf decodes the pod template a revision restores.
func TemplateOf(cr *revisions.Revision) (*corev1.PodTemplateSpec, error) {
	return revisions.TemplateOfRevision(cr)
}

// Hash is the hash of set's template that names its revision (<set>-<hash>).
func Hash(set *statefulsetv1.StatefulSet) string { return revisions.Hash(owner(set)) }

// NewRevision is the revision's object: named <set>-<hash>, with the template's
// labels plus controller-revision-hash = its own name, the StatefulSet's
// annotations, owned by the StatefulSet.
func NewRevision(set *statefulsetv1.StatefulSet, hash string, revision int64) *revisions.Revision {
	return revisionKind.NewRevision(owner(set), hash, revision)
}

// HistoryPlan is constructHistory's decision; Hash is the revision's name, the
// controller-revision-hash of its pods.
type HistoryPlan = revisions.Plan

// PlanHistory is constructHistory (see revisions.Kind.PlanHistory).
func PlanHistory(set *statefulsetv1.StatefulSet, revs []*revisions.Revision) HistoryPlan {
	return revisionKind.PlanHistory(owner(set), revs)
}

// HistoryToDelete is cleanupHistory: beyond revisionHistoryLimit, the oldest
// revisions no live pod still uses.
func HistoryToDelete(set *statefulsetv1.StatefulSet, old []*revisions.Revision, pods []*corev1.Pod) []*revisions.Revision {
	return revisionKind.HistoryToDelete(owner(set), old, pods)
}

// HistoryEntry is one entry of `kubectl rollout history statefulset`.
func HistoryEntry(e revisions.Entry) *statefulsetv1.StatefulSetRevision {
	return &statefulsetv1.StatefulSetRevision{Revision: e.Revision, ChangeCause: e.ChangeCause, ControllerRevisionName: e.Name, Template: e.Template}
}

// CurrentRevision is getStatefulSetRevisions' choice of the current revision:
// the revision named by status.currentRevision when it exists (and is not the
// update revision), else the update revision. It returns the revision's name and
// set with that revision's template (set itself for the update revision); err
// says the current revision's template could not be read (the update revision
// is used then).
func CurrentRevision(set *statefulsetv1.StatefulSet, revs []*revisions.Revision, updateRevision string) (name string, current *statefulsetv1.StatefulSet, err error) {
	want := set.GetStatus().GetCurrentRevision()
	if want == "" || want == updateRevision {
		return updateRevision, set, nil
	}
	for _, cr := range revs {
		if cr.GetMetadata().GetName() != want {
			continue
		}
		t, err := TemplateOf(cr)
		if err != nil {
			return updateRevision, set, fmt.Errorf("current revision %s: %w", want, err)
		}
		current = proto.Clone(set).(*statefulsetv1.StatefulSet)
		current.Spec.Template = t
		return want, current, nil
	}
	return updateRevision, set, nil
}
