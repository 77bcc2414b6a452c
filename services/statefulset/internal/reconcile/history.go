package reconcile

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/shared/revisions"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// The StatefulSet's ControllerRevision history is shared/revisions over
// statefulsetv1.ControllerRevision; a revision's controller-revision-hash is its
// name <set>-<hash>, the value a StatefulSet's pods carry.
var revisionKind = revisions.Kind[*statefulsetv1.ControllerRevision]{
	OwnerKind: "StatefulSet",
	New: func(meta *corev1.ObjectMeta, data *structpb.Struct, revision int64) *statefulsetv1.ControllerRevision {
		return &statefulsetv1.ControllerRevision{ApiVersion: "apps/v1", Kind: "ControllerRevision", Metadata: meta, Data: data, Revision: revision}
	},
	SetRevision: func(cr *statefulsetv1.ControllerRevision, revision int64) { cr.Revision = revision },
	LabelIsName: true,
}

func owner(set *statefulsetv1.StatefulSet) revisions.Owner {
	return revisions.OwnerOf(set.GetMetadata(), set.GetSpec(), set.GetStatus())
}

// TemplateOf decodes the pod template a revision restores.
func TemplateOf(cr *statefulsetv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	return revisions.TemplateOfRevision(cr)
}

// Hash is the hash of set's template that names its revision (<set>-<hash>).
func Hash(set *statefulsetv1.StatefulSet) string { return revisions.Hash(owner(set)) }

// NewRevision is the revision's object: named <set>-<hash>, with the template's
// labels plus controller-revision-hash = its own name, the StatefulSet's
// annotations, owned by the StatefulSet.
func NewRevision(set *statefulsetv1.StatefulSet, hash string, revision int64) *statefulsetv1.ControllerRevision {
	return revisionKind.NewRevision(owner(set), hash, revision)
}

// HistoryPlan is constructHistory's decision.
type HistoryPlan struct {
	// Current is the revision of the current template; nil when one must be created
	// (Create is then set).
	Current *statefulsetv1.ControllerRevision
	// Create is the new revision to store.
	Create *statefulsetv1.ControllerRevision
	// BumpRevision is set when Current must be renumbered to the next revision (a
	// rollback to an old template makes it the newest).
	BumpRevision bool
	// Old are the other revisions.
	Old []*statefulsetv1.ControllerRevision
	// Name is the revision's name: the controller-revision-hash of its pods.
	Name string
}

// PlanHistory is constructHistory (see revisions.Kind.PlanHistory).
func PlanHistory(set *statefulsetv1.StatefulSet, revs []*statefulsetv1.ControllerRevision) HistoryPlan {
	p := revisionKind.PlanHistory(owner(set), revs)
	return HistoryPlan{Current: p.Current, Create: p.Create, BumpRevision: p.BumpRevision, Old: p.Old, Name: p.Hash}
}

// HistoryToDelete is cleanupHistory: beyond revisionHistoryLimit, the oldest
// revisions no live pod still uses.
func HistoryToDelete(set *statefulsetv1.StatefulSet, old []*statefulsetv1.ControllerRevision, pods []*corev1.Pod) []*statefulsetv1.ControllerRevision {
	return revisionKind.HistoryToDelete(owner(set), old, pods)
}

// History is `kubectl rollout history statefulset`: one entry per revision, oldest first.
func History(revs []*statefulsetv1.ControllerRevision) []*statefulsetv1.StatefulSetRevision {
	return revisions.History(revs, func(e revisions.Entry) *statefulsetv1.StatefulSetRevision {
		return &statefulsetv1.StatefulSetRevision{Revision: e.Revision, ChangeCause: e.ChangeCause, ControllerRevisionName: e.Name, Template: e.Template}
	})
}

// ErrRevisionNotFound is kubectl's error for a revision no ControllerRevision carries.
var ErrRevisionNotFound = revisions.ErrRevisionNotFound

// PlanRollback decides `kubectl rollout undo statefulset`.
func PlanRollback(set *statefulsetv1.StatefulSet, revs []*statefulsetv1.ControllerRevision, toRevision int64) (revisions.Rollback, error) {
	return revisions.PlanRollback(set.GetSpec().GetTemplate(), revs, toRevision)
}

// CurrentRevision is getStatefulSetRevisions' choice of the current revision:
// the revision named by status.currentRevision when it exists (and is not the
// update revision), else the update revision. It returns the revision's name and
// set with that revision's template (set itself for the update revision); err
// says the current revision's template could not be read (the update revision
// is used then).
func CurrentRevision(set *statefulsetv1.StatefulSet, revs []*statefulsetv1.ControllerRevision, updateRevision string) (name string, current *statefulsetv1.StatefulSet, err error) {
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
