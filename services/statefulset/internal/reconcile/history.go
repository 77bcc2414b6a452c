package reconcile

import (
	"errors"
	"fmt"
	"maps"
	"sort"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/shared/naming"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// Patch is the statefulset controller's getPatch: the strategic merge patch that
// restores set's pod template, {"spec":{"template":{...,"$patch":"replace"}}}.
func Patch(set *statefulsetv1.StatefulSet) *structpb.Struct {
	b, _ := protojson.Marshal(set.GetSpec().GetTemplate())
	tmpl := &structpb.Struct{}
	_ = protojson.Unmarshal(b, tmpl)
	if tmpl.Fields == nil {
		tmpl.Fields = map[string]*structpb.Value{}
	}
	tmpl.Fields["$patch"] = structpb.NewStringValue("replace")
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"spec": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"template": structpb.NewStructValue(tmpl)}}),
	}}
}

// TemplateOf decodes the pod template a revision restores.
func TemplateOf(cr *statefulsetv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	tmpl := cr.GetData().GetFields()["spec"].GetStructValue().GetFields()["template"].GetStructValue()
	if tmpl == nil {
		return nil, fmt.Errorf("controller revision %s holds no spec.template", cr.GetMetadata().GetName())
	}
	c := proto.Clone(tmpl).(*structpb.Struct)
	delete(c.Fields, "$patch")
	b, err := protojson.Marshal(c)
	if err != nil {
		return nil, err
	}
	out := &corev1.PodTemplateSpec{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("decode template of controller revision %s: %w", cr.GetMetadata().GetName(), err)
	}
	return out, nil
}

// Match reports whether the revision holds set's current template.
func Match(set *statefulsetv1.StatefulSet, cr *statefulsetv1.ControllerRevision) bool {
	return proto.Equal(Patch(set), cr.GetData())
}

// Hash is the hash of set's template that names its revision (<set>-<hash>).
func Hash(set *statefulsetv1.StatefulSet) string {
	var cc *int32
	if st := set.GetStatus(); st != nil {
		cc = st.CollisionCount
	}
	return naming.ComputeHash(set.GetSpec().GetTemplate(), cc)
}

// NewRevision is the revision's object: named <set>-<hash>, with the template's
// labels plus controller-revision-hash = its own name (the value a StatefulSet's
// pods carry), the StatefulSet's annotations, owned by the StatefulSet.
func NewRevision(set *statefulsetv1.StatefulSet, hash string, revision int64) *statefulsetv1.ControllerRevision {
	m := set.GetMetadata()
	labels := maps.Clone(set.GetSpec().GetTemplate().GetMetadata().GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	name := m.GetName() + "-" + hash
	labels[HashLabel] = name
	yes := true
	return &statefulsetv1.ControllerRevision{
		ApiVersion: "apps/v1", Kind: "ControllerRevision",
		Metadata: &corev1.ObjectMeta{
			Name: name, Namespace: m.GetNamespace(), Labels: labels,
			Annotations: maps.Clone(m.GetAnnotations()),
			OwnerReferences: []*corev1.OwnerReference{{
				ApiVersion: "apps/v1", Kind: "StatefulSet", Name: m.GetName(), Uid: m.GetUid(), Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Data:     Patch(set),
		Revision: revision,
	}
}

// HistoryPlan is constructHistory's decision.
type HistoryPlan struct {
	// Current is the revision of the current template; nil when one must be created
	// (Create is then set).
	Current *statefulsetv1.ControllerRevision
	// Create is the new revision to store.
	Create *statefulsetv1.ControllerRevision
	// BumpRevision is set when Current must be renumbered to NextRevision (a
	// rollback to an old template makes it the newest).
	BumpRevision bool
	// Old are the other revisions.
	Old []*statefulsetv1.ControllerRevision
	// Name is the revision's name: the controller-revision-hash of its pods.
	Name string
}

// PlanHistory is constructHistory: the revision matching set's template is the
// current one (the highest when several do), renumbered to be the newest; when
// none matches a new one is created with the next revision number.
func PlanHistory(set *statefulsetv1.StatefulSet, revisions []*statefulsetv1.ControllerRevision) HistoryPlan {
	var cur []*statefulsetv1.ControllerRevision
	var hp HistoryPlan
	for _, cr := range revisions {
		if Match(set, cr) {
			cur = append(cur, cr)
		} else {
			hp.Old = append(hp.Old, cr)
		}
	}
	next := maxRevision(hp.Old) + 1
	if len(cur) == 0 {
		hash := Hash(set)
		hp.Create = NewRevision(set, hash, next)
		hp.Name = hp.Create.Metadata.Name
		return hp
	}
	sort.Slice(cur, func(i, j int) bool { return cur[i].GetRevision() > cur[j].GetRevision() })
	hp.Current = cur[0]
	hp.Old = append(hp.Old, cur[1:]...)
	hp.Name = hp.Current.GetMetadata().GetName()
	if hp.Current.GetRevision() < next {
		hp.Current = proto.Clone(hp.Current).(*statefulsetv1.ControllerRevision)
		hp.Current.Revision = next
		hp.BumpRevision = true
	}
	return hp
}

func maxRevision(list []*statefulsetv1.ControllerRevision) int64 {
	var m int64
	for _, cr := range list {
		m = max(m, cr.GetRevision())
	}
	return m
}

// HistoryToDelete is cleanupHistory: beyond revisionHistoryLimit, the oldest
// revisions no live pod still uses.
func HistoryToDelete(set *statefulsetv1.StatefulSet, old []*statefulsetv1.ControllerRevision, pods []*corev1.Pod) []*statefulsetv1.ControllerRevision {
	limit := 10
	if l := set.GetSpec().RevisionHistoryLimit; l != nil {
		limit = int(*l)
	}
	toKill := len(old) - limit
	if toKill <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, p := range pods {
		if h := p.GetMetadata().GetLabels()[HashLabel]; h != "" {
			live[h] = true
		}
	}
	sorted := append([]*statefulsetv1.ControllerRevision(nil), old...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].GetRevision() < sorted[j].GetRevision() })
	var out []*statefulsetv1.ControllerRevision
	for _, cr := range sorted {
		if toKill <= 0 {
			break
		}
		if live[cr.GetMetadata().GetName()] {
			continue
		}
		out = append(out, cr)
		toKill--
	}
	return out
}

// History is `kubectl rollout history statefulset`: one entry per revision, oldest first.
func History(revisions []*statefulsetv1.ControllerRevision) []*statefulsetv1.StatefulSetRevision {
	out := make([]*statefulsetv1.StatefulSetRevision, 0, len(revisions))
	for _, cr := range revisions {
		t, err := TemplateOf(cr)
		if err != nil {
			continue
		}
		out = append(out, &statefulsetv1.StatefulSetRevision{
			Revision: cr.GetRevision(), ChangeCause: cr.GetMetadata().GetAnnotations()[ChangeCauseAnnotation],
			ControllerRevisionName: cr.GetMetadata().GetName(), Template: t,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetRevision() < out[j].GetRevision() })
	return out
}

// ErrRevisionNotFound is kubectl's error for a revision no ControllerRevision carries.
var ErrRevisionNotFound = errors.New("unable to find the specified revision")

// Rollback is kubectl's StatefulSetRollbacker: the template of revision toRevision
// (0: the previous one) becomes set's template, unless it already is (Skipped).
type Rollback struct {
	Template *corev1.PodTemplateSpec
	Skipped  bool
	Message  string
}

// PlanRollback decides `kubectl rollout undo statefulset`.
func PlanRollback(set *statefulsetv1.StatefulSet, revisions []*statefulsetv1.ControllerRevision, toRevision int64) (Rollback, error) {
	if toRevision < 0 {
		return Rollback{}, fmt.Errorf("unable to find specified revision %v in history", toRevision)
	}
	sorted := append([]*statefulsetv1.ControllerRevision(nil), revisions...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].GetRevision() < sorted[j].GetRevision() })
	var target *statefulsetv1.ControllerRevision
	if toRevision == 0 {
		if len(sorted) < 2 {
			return Rollback{}, fmt.Errorf("no last revision to roll back to")
		}
		target = sorted[len(sorted)-2]
	} else {
		for _, cr := range sorted {
			if cr.GetRevision() == toRevision {
				target = cr
			}
		}
		if target == nil {
			return Rollback{}, fmt.Errorf("unable to find specified revision %v in history", toRevision)
		}
	}
	if Match(set, target) {
		return Rollback{Skipped: true, Message: fmt.Sprintf("skipped rollback (current template already matches revision %d)", target.GetRevision())}, nil
	}
	t, err := TemplateOf(target)
	if err != nil {
		return Rollback{}, err
	}
	return Rollback{Template: t, Message: "rolled back"}, nil
}
