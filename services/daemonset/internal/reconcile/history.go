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
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// Patch is the daemonset controller's getPatch: the strategic merge patch that
// restores ds's pod template, {"spec":{"template":{...,"$patch":"replace"}}}.
func Patch(ds *daemonsetv1.DaemonSet) *structpb.Struct {
	b, _ := protojson.Marshal(ds.GetSpec().GetTemplate())
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
func TemplateOf(cr *daemonsetv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
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

// Match reports whether the revision holds ds's current template.
func Match(ds *daemonsetv1.DaemonSet, cr *daemonsetv1.ControllerRevision) bool {
	return proto.Equal(Patch(ds), cr.GetData())
}

// Hash is the controller-revision-hash of ds's template.
func Hash(ds *daemonsetv1.DaemonSet) string {
	var cc *int32
	if st := ds.GetStatus(); st != nil {
		cc = st.CollisionCount
	}
	return naming.ComputeHash(ds.GetSpec().GetTemplate(), cc)
}

// NewRevision is snapshot's object: <ds>-<hash>, the template's labels plus the
// hash, the DaemonSet's annotations, owned by the DaemonSet.
func NewRevision(ds *daemonsetv1.DaemonSet, hash string, revision int64) *daemonsetv1.ControllerRevision {
	m := ds.GetMetadata()
	labels := maps.Clone(ds.GetSpec().GetTemplate().GetMetadata().GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[HashLabel] = hash
	yes := true
	return &daemonsetv1.ControllerRevision{
		ApiVersion: "apps/v1", Kind: "ControllerRevision",
		Metadata: &corev1.ObjectMeta{
			Name: m.GetName() + "-" + hash, Namespace: m.GetNamespace(), Labels: labels,
			Annotations: maps.Clone(m.GetAnnotations()),
			OwnerReferences: []*corev1.OwnerReference{{
				ApiVersion: "apps/v1", Kind: "DaemonSet", Name: m.GetName(), Uid: m.GetUid(), Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Data:     Patch(ds),
		Revision: revision,
	}
}

// HistoryPlan is constructHistory's decision.
type HistoryPlan struct {
	// Current is the revision of the current template; nil when one must be created
	// (Create is then set).
	Current *daemonsetv1.ControllerRevision
	// Create is the new revision to store.
	Create *daemonsetv1.ControllerRevision
	// BumpRevision is set when Current must be renumbered to NextRevision (a
	// rollback to an old template makes it the newest).
	BumpRevision bool
	// Old are the other revisions.
	Old []*daemonsetv1.ControllerRevision
	// Hash is the controller-revision-hash new pods get.
	Hash string
}

// PlanHistory is constructHistory: the revision matching ds's template is the
// current one (the highest when several do), renumbered to be the newest; when
// none matches a new one is created with the next revision number.
func PlanHistory(ds *daemonsetv1.DaemonSet, revisions []*daemonsetv1.ControllerRevision) HistoryPlan {
	var cur []*daemonsetv1.ControllerRevision
	var hp HistoryPlan
	for _, cr := range revisions {
		if Match(ds, cr) {
			cur = append(cur, cr)
		} else {
			hp.Old = append(hp.Old, cr)
		}
	}
	next := maxRevision(hp.Old) + 1
	if len(cur) == 0 {
		hash := Hash(ds)
		hp.Create = NewRevision(ds, hash, next)
		hp.Hash = hash
		return hp
	}
	sort.Slice(cur, func(i, j int) bool { return cur[i].GetRevision() > cur[j].GetRevision() })
	hp.Current = cur[0]
	hp.Old = append(hp.Old, cur[1:]...)
	hp.Hash = hashOf(hp.Current)
	if hp.Current.GetRevision() < next {
		hp.Current = proto.Clone(hp.Current).(*daemonsetv1.ControllerRevision)
		hp.Current.Revision = next
		hp.BumpRevision = true
	}
	return hp
}

func hashOf(cr *daemonsetv1.ControllerRevision) string {
	if h := cr.GetMetadata().GetLabels()[HashLabel]; h != "" {
		return h
	}
	return cr.GetMetadata().GetName()
}

func maxRevision(list []*daemonsetv1.ControllerRevision) int64 {
	var m int64
	for _, cr := range list {
		m = max(m, cr.GetRevision())
	}
	return m
}

// HistoryToDelete is cleanupHistory: beyond revisionHistoryLimit, the oldest
// revisions no live pod still uses.
func HistoryToDelete(ds *daemonsetv1.DaemonSet, old []*daemonsetv1.ControllerRevision, pods []*corev1.Pod) []*daemonsetv1.ControllerRevision {
	limit := 10
	if l := ds.GetSpec().RevisionHistoryLimit; l != nil {
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
	sorted := append([]*daemonsetv1.ControllerRevision(nil), old...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].GetRevision() < sorted[j].GetRevision() })
	var out []*daemonsetv1.ControllerRevision
	for _, cr := range sorted {
		if toKill <= 0 {
			break
		}
		if live[hashOf(cr)] {
			continue
		}
		out = append(out, cr)
		toKill--
	}
	return out
}

// History is `kubectl rollout history daemonset`: one entry per revision, oldest first.
func History(revisions []*daemonsetv1.ControllerRevision) []*daemonsetv1.DaemonSetRevision {
	out := make([]*daemonsetv1.DaemonSetRevision, 0, len(revisions))
	for _, cr := range revisions {
		t, err := TemplateOf(cr)
		if err != nil {
			continue
		}
		out = append(out, &daemonsetv1.DaemonSetRevision{
			Revision: cr.GetRevision(), ChangeCause: cr.GetMetadata().GetAnnotations()[ChangeCauseAnnotation],
			ControllerRevisionName: cr.GetMetadata().GetName(), Template: t,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetRevision() < out[j].GetRevision() })
	return out
}

// ErrRevisionNotFound is kubectl's error for a revision no ControllerRevision carries.
var ErrRevisionNotFound = errors.New("unable to find the specified revision")

// Rollback is kubectl's DaemonSetRollbacker: the template of revision toRevision
// (0: the previous one) becomes ds's template, unless it already is (Skipped).
type Rollback struct {
	Template *corev1.PodTemplateSpec
	Skipped  bool
	Message  string
}

// PlanRollback decides `kubectl rollout undo daemonset`.
func PlanRollback(ds *daemonsetv1.DaemonSet, revisions []*daemonsetv1.ControllerRevision, toRevision int64) (Rollback, error) {
	if toRevision < 0 {
		return Rollback{}, fmt.Errorf("unable to find specified revision %v in history", toRevision)
	}
	sorted := append([]*daemonsetv1.ControllerRevision(nil), revisions...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].GetRevision() < sorted[j].GetRevision() })
	var target *daemonsetv1.ControllerRevision
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
	if Match(ds, target) {
		return Rollback{Skipped: true, Message: fmt.Sprintf("skipped rollback (current template already matches revision %d)", target.GetRevision())}, nil
	}
	t, err := TemplateOf(target)
	if err != nil {
		return Rollback{}, err
	}
	return Rollback{Template: t, Message: "rolled back"}, nil
}
