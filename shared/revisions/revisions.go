// Package revisions is the ControllerRevision history shared by the daemonset
// and statefulset controllers (Kubernetes' controller/history plus kubectl's
// rollout history and undo): a revision stores the strategic merge patch that
// restores its owner's pod template, the revision matching the owner's template
// is the current one, the oldest unused ones beyond revisionHistoryLimit go.
//
// Both services store the one apps/v1 ControllerRevision message
// (podwarden.apps.v1); a Kind supplies what differs between owner kinds.
// This file holds the pure decisions; write.go the writes they come to in a
// sync's apply.Plan (Plan.Writes: the new revision, its name taken by the same
// revision reused and by another a hash collision counted by
// apply.CountCollision; Deletes: the history beyond the limit); handlers.go the
// bodies of the history RPCs (Handlers, Resource).
package revisions

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/shared/naming"

	appsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/apps/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

const (
	// HashLabel is the label tying pods to the revision of their template.
	HashLabel = "controller-revision-hash"
	// ChangeCauseAnnotation is the annotation `kubectl rollout history` shows.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	// DefaultHistoryLimit is revisionHistoryLimit's default.
	DefaultHistoryLimit = 10
)

// Revision is apps/v1 ControllerRevision.
type Revision = appsv1.ControllerRevision

// Owner is what the history needs of a DaemonSet or StatefulSet.
type Owner struct {
	Meta           *corev1.ObjectMeta
	Template       *corev1.PodTemplateSpec
	CollisionCount *int32
	// HistoryLimit is spec.revisionHistoryLimit; nil means DefaultHistoryLimit.
	HistoryLimit *int32
}

// Spec is an owner's generated spec message.
type Spec interface {
	proto.Message
	GetTemplate() *corev1.PodTemplateSpec
}

// OwnerOf is the Owner of a DaemonSet or StatefulSet: its metadata, its spec's
// template and optional revision_history_limit, its status's optional
// collision_count (spec and status may be nil).
func OwnerOf(meta *corev1.ObjectMeta, spec Spec, status proto.Message) Owner {
	return Owner{Meta: meta, Template: spec.GetTemplate(),
		HistoryLimit: optionalInt32(spec, "revision_history_limit"), CollisionCount: optionalInt32(status, "collision_count")}
}

func optionalInt32(m proto.Message, field protoreflect.Name) *int32 {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(field)
	if fd == nil || !r.Has(fd) {
		return nil
	}
	return proto.Int32(int32(r.Get(fd).Int()))
}

// Kind is one owner kind's ControllerRevision rules.
type Kind struct {
	// OwnerKind is the owner reference's kind ("DaemonSet", "StatefulSet").
	OwnerKind string
	// LabelIsName: a revision's controller-revision-hash, the value its pods
	// carry, is its name <owner>-<hash> (StatefulSet) rather than the hash
	// (DaemonSet).
	LabelIsName bool
}

// Patch is the controllers' getPatch: the strategic merge patch that restores
// tmpl, {"spec":{"template":{...,"$patch":"replace"}}}.
func Patch(tmpl *corev1.PodTemplateSpec) *structpb.Struct {
	b, _ := protojson.Marshal(tmpl)
	t := &structpb.Struct{}
	_ = protojson.Unmarshal(b, t)
	if t.Fields == nil {
		t.Fields = map[string]*structpb.Value{}
	}
	t.Fields["$patch"] = structpb.NewStringValue("replace")
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"spec": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"template": structpb.NewStructValue(t)}}),
	}}
}

// TemplateOf decodes the pod template the data of revision name restores.
func TemplateOf(data *structpb.Struct, name string) (*corev1.PodTemplateSpec, error) {
	tmpl := data.GetFields()["spec"].GetStructValue().GetFields()["template"].GetStructValue()
	if tmpl == nil {
		return nil, fmt.Errorf("controller revision %s holds no spec.template", name)
	}
	c := proto.Clone(tmpl).(*structpb.Struct)
	delete(c.Fields, "$patch")
	b, err := protojson.Marshal(c)
	if err != nil {
		return nil, err
	}
	out := &corev1.PodTemplateSpec{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("decode template of controller revision %s: %w", name, err)
	}
	return out, nil
}

// TemplateOfRevision is TemplateOf(r's data, r's name).
func TemplateOfRevision(r *Revision) (*corev1.PodTemplateSpec, error) {
	return TemplateOf(r.GetData(), r.GetMetadata().GetName())
}

// Matches reports whether r holds tmpl.
func Matches(tmpl *corev1.PodTemplateSpec, r *Revision) bool {
	return proto.Equal(Patch(tmpl), r.GetData())
}

// Hash is the hash of o's template (and collision count) naming its revision.
func Hash(o Owner) string {
	return naming.ComputeHash(o.Template, o.CollisionCount)
}

// Sorted is a copy of revs, oldest (lowest revision number) first.
func Sorted(revs []*Revision) []*Revision {
	out := slices.Clone(revs)
	slices.SortStableFunc(out, func(a, b *Revision) int { return cmp.Compare(a.GetRevision(), b.GetRevision()) })
	return out
}

// NextRevision is the revision number after the highest in revs (1 for none).
func NextRevision(revs []*Revision) int64 {
	var m int64
	for _, r := range revs {
		m = max(m, r.GetRevision())
	}
	return m + 1
}

// NewRevision is the revision of o's template: named <owner>-<hash>, labelled
// with the template's labels plus controller-revision-hash, annotated with o's
// annotations, controlled by o.
func (k Kind) NewRevision(o Owner, hash string, revision int64) *Revision {
	m := o.Meta
	name := m.GetName() + "-" + hash
	labels := maps.Clone(o.Template.GetMetadata().GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[HashLabel] = hash
	if k.LabelIsName {
		labels[HashLabel] = name
	}
	yes := true
	return &Revision{
		ApiVersion: "apps/v1", Kind: "ControllerRevision",
		Metadata: &corev1.ObjectMeta{
			Name: name, Namespace: m.GetNamespace(), Labels: labels,
			Annotations: maps.Clone(m.GetAnnotations()),
			OwnerReferences: []*corev1.OwnerReference{{
				ApiVersion: "apps/v1", Kind: k.OwnerKind, Name: m.GetName(), Uid: m.GetUid(), Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Data: Patch(o.Template), Revision: revision,
	}
}

// PodHash is the controller-revision-hash the pods of r carry: its name, or
// (LabelIsName unset) its label, the name when it has none.
func (k Kind) PodHash(r *Revision) string {
	if !k.LabelIsName {
		if h := r.GetMetadata().GetLabels()[HashLabel]; h != "" {
			return h
		}
	}
	return r.GetMetadata().GetName()
}

// Plan is constructHistory's decision.
type Plan struct {
	// Current is the revision of the current template; nil when one must be
	// created (Create is then set).
	Current *Revision
	// Create is the new revision to store.
	Create *Revision
	// BumpRevision is set when Current must be renumbered to the next revision
	// (a rollback to an old template makes it the newest).
	BumpRevision bool
	// Old are the other revisions.
	Old []*Revision
	// Hash is the controller-revision-hash new pods get (PodHash of the
	// current revision).
	Hash string
}

// PlanHistory is constructHistory: the revision matching o's template is the
// current one (the highest when several do), renumbered to be the newest; when
// none matches a new one is created with the next revision number.
func (k Kind) PlanHistory(o Owner, revs []*Revision) Plan {
	var cur []*Revision
	var p Plan
	for _, r := range revs {
		if Matches(o.Template, r) {
			cur = append(cur, r)
		} else {
			p.Old = append(p.Old, r)
		}
	}
	next := NextRevision(p.Old)
	if len(cur) == 0 {
		p.Create = k.NewRevision(o, Hash(o), next)
		p.Hash = k.PodHash(p.Create)
		return p
	}
	slices.SortStableFunc(cur, func(a, b *Revision) int { return cmp.Compare(b.GetRevision(), a.GetRevision()) })
	p.Current = cur[0]
	p.Old = append(p.Old, cur[1:]...)
	p.Hash = k.PodHash(p.Current)
	if p.Current.GetRevision() < next {
		p.Current = proto.CloneOf(p.Current)
		p.Current.Revision = next
		p.BumpRevision = true
	}
	return p
}

// HistoryToDelete is cleanupHistory: beyond o's revisionHistoryLimit, the
// oldest of old no live pod still uses.
func (k Kind) HistoryToDelete(o Owner, old []*Revision, pods []*corev1.Pod) []*Revision {
	limit := DefaultHistoryLimit
	if o.HistoryLimit != nil {
		limit = int(*o.HistoryLimit)
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
	var out []*Revision
	for _, r := range Sorted(old) {
		if toKill <= 0 {
			break
		}
		if live[k.PodHash(r)] {
			continue
		}
		out = append(out, r)
		toKill--
	}
	return out
}

// Entry is one line of `kubectl rollout history`.
type Entry struct {
	Revision    int64
	ChangeCause string
	Name        string
	Template    *corev1.PodTemplateSpec
}

// History is `kubectl rollout history`: one entry per readable revision,
// oldest first, each made by entry.
func History[E any](revs []*Revision, entry func(Entry) E) []E {
	out := make([]E, 0, len(revs))
	for _, r := range Sorted(revs) {
		t, err := TemplateOfRevision(r)
		if err != nil {
			continue
		}
		out = append(out, entry(Entry{
			Revision: r.GetRevision(), ChangeCause: r.GetMetadata().GetAnnotations()[ChangeCauseAnnotation],
			Name: r.GetMetadata().GetName(), Template: t,
		}))
	}
	return out
}

// ErrRevisionNotFound is kubectl's error for a revision no ControllerRevision carries.
var ErrRevisionNotFound = errors.New("unable to find the specified revision")

// Rollback is kubectl's DaemonSetRollbacker / StatefulSetRollbacker: the
// template of revision toRevision (0: the previous one) becomes the owner's
// template, unless it already is (Skipped).
type Rollback struct {
	Template *corev1.PodTemplateSpec
	Skipped  bool
	Message  string
}

// PlanRollback decides `kubectl rollout undo` of an owner whose template is tmpl.
func PlanRollback(tmpl *corev1.PodTemplateSpec, revs []*Revision, toRevision int64) (Rollback, error) {
	if toRevision < 0 {
		return Rollback{}, fmt.Errorf("unable to find specified revision %v in history", toRevision)
	}
	sorted := Sorted(revs)
	var target *Revision
	if toRevision == 0 {
		if len(sorted) < 2 {
			return Rollback{}, fmt.Errorf("no last revision to roll back to")
		}
		target = sorted[len(sorted)-2]
	} else {
		for _, r := range sorted {
			if r.GetRevision() == toRevision {
				target = r
			}
		}
		if target == nil {
			return Rollback{}, fmt.Errorf("unable to find specified revision %v in history", toRevision)
		}
	}
	if Matches(tmpl, target) {
		return Rollback{Skipped: true, Message: fmt.Sprintf("skipped rollback (current template already matches revision %d)", target.GetRevision())}, nil
	}
	t, err := TemplateOfRevision(target)
	if err != nil {
		return Rollback{}, err
	}
	return Rollback{Template: t, Message: "rolled back"}, nil
}
