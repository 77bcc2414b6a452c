package revisions

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

type cr = Revision

func newCR(meta *corev1.ObjectMeta, data *structpb.Struct, revision int64) *cr {
	return &cr{ApiVersion: "apps/v1", Kind: "ControllerRevision", Metadata: meta, Data: data, Revision: revision}
}

// hashKind labels a revision with its hash (DaemonSet); nameKind with its name (StatefulSet).
var (
	hashKind = Kind{OwnerKind: "DaemonSet"}
	nameKind = Kind{OwnerKind: "StatefulSet", LabelIsName: true}
)

func template(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		Metadata: &corev1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: image}}},
	}
}

func ownerOf(image string) Owner {
	return Owner{Meta: &corev1.ObjectMeta{Name: "web", Namespace: "default", Uid: "uid-1", Annotations: map[string]string{"a": "b"}},
		Template: template(image)}
}

func withLimit(o Owner, n int32) Owner { o.HistoryLimit = &n; return o }

func revisionOf(k Kind, image string, rev int64) *cr {
	o := ownerOf(image)
	r := k.NewRevision(o, Hash(o), rev)
	r.Metadata.Annotations = map[string]string{ChangeCauseAnnotation: "image " + image}
	return r
}

func numbers(rs []*cr) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.GetRevision())
	}
	return out
}

func TestPatchRoundTrip(t *testing.T) {
	cases := map[string]*corev1.PodTemplateSpec{
		"template": template("a:1"),
		"empty":    {},
	}
	for name, tmpl := range cases {
		t.Run(name, func(t *testing.T) {
			p := Patch(tmpl)
			inner := p.GetFields()["spec"].GetStructValue().GetFields()["template"].GetStructValue()
			if inner.GetFields()["$patch"].GetStringValue() != "replace" {
				t.Fatalf("patch %v has no $patch: replace", p)
			}
			got, err := TemplateOf(p, "r")
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tmpl) {
				t.Fatalf("round trip %v, want %v", got, tmpl)
			}
		})
	}
}

func TestTemplateOfErrors(t *testing.T) {
	cases := map[string]*structpb.Struct{
		"no data":     nil,
		"no template": {Fields: map[string]*structpb.Value{"spec": structpb.NewStructValue(&structpb.Struct{})}},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := TemplateOf(data, "web-1"); err == nil || !strings.Contains(err.Error(), "controller revision web-1 holds no spec.template") {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestNewRevision(t *testing.T) {
	o := ownerOf("a:1")
	h := Hash(o)
	cases := map[string]struct {
		kind      Kind
		wantLabel string
	}{
		"hash label": {kind: hashKind, wantLabel: h},
		"name label": {kind: nameKind, wantLabel: "web-" + h},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := tc.kind.NewRevision(o, h, 4)
			m := r.GetMetadata()
			if m.GetName() != "web-"+h || m.GetNamespace() != "default" || r.GetRevision() != 4 || r.GetKind() != "ControllerRevision" {
				t.Fatalf("revision %v", r)
			}
			if m.GetLabels()[HashLabel] != tc.wantLabel || m.GetLabels()["app"] != "web" || m.GetAnnotations()["a"] != "b" {
				t.Fatalf("labels %v annotations %v", m.GetLabels(), m.GetAnnotations())
			}
			if ref := m.GetOwnerReferences()[0]; ref.GetKind() != tc.kind.OwnerKind || ref.GetUid() != "uid-1" || !ref.GetController() || !ref.GetBlockOwnerDeletion() {
				t.Fatalf("owner %v", ref)
			}
			if !Matches(o.Template, r) || Matches(template("a:2"), r) {
				t.Fatal("revision does not hold exactly its template")
			}
			if _, ok := o.Template.GetMetadata().GetLabels()[HashLabel]; ok {
				t.Fatal("NewRevision changed the template's labels")
			}
		})
	}
}

func TestHashCollisionCount(t *testing.T) {
	o := ownerOf("a:1")
	c := o
	c.CollisionCount = proto.Int32(1)
	if Hash(o) == Hash(c) || Hash(o) != Hash(ownerOf("a:1")) {
		t.Fatal("the hash must be stable and change with the collision count")
	}
}

func TestPlanHistory(t *testing.T) {
	cases := map[string]struct {
		kind         Kind
		owner        Owner
		revisions    []*cr
		wantCreate   int64 // revision number of a new revision, 0 = none
		wantCurrent  int64
		wantBump     bool
		wantOld      []int64
		wantHashName bool // Hash is the revision's name
	}{
		"first revision":               {kind: hashKind, owner: ownerOf("a:1"), wantCreate: 1},
		"first revision, name label":   {kind: nameKind, owner: ownerOf("a:1"), wantCreate: 1, wantHashName: true},
		"template unchanged":           {kind: hashKind, owner: ownerOf("a:1"), revisions: []*cr{revisionOf(hashKind, "a:1", 1)}, wantCurrent: 1},
		"template unchanged, name":     {kind: nameKind, owner: ownerOf("a:1"), revisions: []*cr{revisionOf(nameKind, "a:1", 1)}, wantCurrent: 1, wantHashName: true},
		"template changed":             {kind: hashKind, owner: ownerOf("a:2"), revisions: []*cr{revisionOf(hashKind, "a:1", 1)}, wantCreate: 2, wantOld: []int64{1}},
		"numbering follows the newest": {kind: hashKind, owner: ownerOf("a:3"), revisions: []*cr{revisionOf(hashKind, "a:1", 7), revisionOf(hashKind, "a:2", 2)}, wantCreate: 8, wantOld: []int64{7, 2}},
		"back to an older template":    {kind: hashKind, owner: ownerOf("a:1"), revisions: []*cr{revisionOf(hashKind, "a:1", 1), revisionOf(hashKind, "a:2", 2)}, wantCurrent: 3, wantBump: true, wantOld: []int64{2}},
		"several match: the highest":   {kind: nameKind, owner: ownerOf("a:1"), revisions: []*cr{revisionOf(nameKind, "a:1", 1), revisionOf(nameKind, "a:1", 3), revisionOf(nameKind, "a:2", 2)}, wantCurrent: 3, wantOld: []int64{2, 1}, wantHashName: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := proto.Clone(&statefulsetv1.ListControllerRevisionsResponse{Items: tc.revisions})
			hp := tc.kind.PlanHistory(tc.owner, tc.revisions)
			var r *cr
			if tc.wantCreate != 0 {
				if hp.Create == nil || hp.Create.Revision != tc.wantCreate || hp.Current != nil || hp.BumpRevision {
					t.Fatalf("want a new revision %d, got %+v", tc.wantCreate, hp)
				}
				r = hp.Create
			} else {
				if hp.Create != nil || hp.Current == nil || hp.Current.Revision != tc.wantCurrent || hp.BumpRevision != tc.wantBump {
					t.Fatalf("want current %d (bump %v), got %+v", tc.wantCurrent, tc.wantBump, hp)
				}
				r = hp.Current
			}
			if hp.Hash != r.Metadata.Labels[HashLabel] || (hp.Hash == r.Metadata.Name) != tc.wantHashName {
				t.Fatalf("hash %q of %v", hp.Hash, r.Metadata)
			}
			if got := numbers(hp.Old); !slices.Equal(got, tc.wantOld) {
				t.Fatalf("old %v, want %v", got, tc.wantOld)
			}
			if !proto.Equal(before, &statefulsetv1.ListControllerRevisionsResponse{Items: tc.revisions}) {
				t.Fatal("PlanHistory changed its input")
			}
		})
	}
}

func TestHistoryToDelete(t *testing.T) {
	hashOld := []*cr{revisionOf(hashKind, "a:3", 3), revisionOf(hashKind, "a:1", 1), revisionOf(hashKind, "a:2", 2)}
	nameOld := []*cr{revisionOf(nameKind, "a:3", 3), revisionOf(nameKind, "a:1", 1), revisionOf(nameKind, "a:2", 2)}
	unlabelled := proto.Clone(hashOld[1]).(*cr)
	delete(unlabelled.Metadata.Labels, HashLabel)
	podWith := func(hash string) *corev1.Pod {
		return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "p", Labels: map[string]string{HashLabel: hash}}}
	}
	cases := map[string]struct {
		kind  Kind
		owner Owner
		old   []*cr
		pods  []*corev1.Pod
		want  []int64
	}{
		"under the default limit":         {kind: hashKind, owner: ownerOf("a:4"), old: hashOld, want: nil},
		"limit 1: the two oldest":         {kind: hashKind, owner: withLimit(ownerOf("a:4"), 1), old: hashOld, want: []int64{1, 2}},
		"limit 0: all":                    {kind: nameKind, owner: withLimit(ownerOf("a:4"), 0), old: nameOld, want: []int64{1, 2, 3}},
		"a pod keeps its revision (hash)": {kind: hashKind, owner: withLimit(ownerOf("a:4"), 1), old: hashOld, pods: []*corev1.Pod{podWith(hashOld[1].Metadata.Labels[HashLabel])}, want: []int64{2, 3}},
		"a pod keeps its revision (name)": {kind: nameKind, owner: withLimit(ownerOf("a:4"), 1), old: nameOld, pods: []*corev1.Pod{podWith(nameOld[1].Metadata.Name)}, want: []int64{2, 3}},
		"name kind ignores a bare hash":   {kind: nameKind, owner: withLimit(ownerOf("a:4"), 1), old: nameOld, pods: []*corev1.Pod{podWith(Hash(ownerOf("a:1")))}, want: []int64{1, 2}},
		"unlabelled: the name is the key": {kind: hashKind, owner: withLimit(ownerOf("a:4"), 0), old: []*cr{unlabelled}, pods: []*corev1.Pod{podWith(unlabelled.Metadata.Name)}, want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := numbers(tc.kind.HistoryToDelete(tc.owner, tc.old, tc.pods)); !slices.Equal(got, tc.want) {
				t.Fatalf("delete revisions %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOrdering(t *testing.T) {
	cases := map[string]struct {
		revs     []*cr
		wantSort []int64
		wantNext int64
	}{
		"none":      {wantNext: 1},
		"unordered": {revs: []*cr{revisionOf(hashKind, "a:3", 3), revisionOf(hashKind, "a:1", 1), revisionOf(hashKind, "a:9", 9)}, wantSort: []int64{1, 3, 9}, wantNext: 10},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := numbers(Sorted(tc.revs)); !slices.Equal(got, tc.wantSort) {
				t.Fatalf("sorted %v, want %v", got, tc.wantSort)
			}
			if got := NextRevision(tc.revs); got != tc.wantNext {
				t.Fatalf("next %d, want %d", got, tc.wantNext)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	broken := newCR(&corev1.ObjectMeta{Name: "web-broken"}, &structpb.Struct{}, 2)
	revs := []*cr{revisionOf(hashKind, "a:3", 3), broken, revisionOf(hashKind, "a:1", 1)}
	got := History(revs, func(e Entry) Entry { return e })
	if len(got) != 2 || got[0].Revision != 1 || got[1].Revision != 3 {
		t.Fatalf("history %+v, want revisions 1 and 3", got)
	}
	if e := got[1]; e.ChangeCause != "image a:3" || e.Name != revs[0].Metadata.Name || e.Template.GetSpec().GetContainers()[0].GetImage() != "a:3" {
		t.Fatalf("entry %+v", e)
	}
}

func TestPlanRollback(t *testing.T) {
	revs := []*cr{revisionOf(hashKind, "a:1", 1), revisionOf(hashKind, "a:3", 3), revisionOf(hashKind, "a:2", 2)}
	cases := map[string]struct {
		tmpl      *corev1.PodTemplateSpec
		revs      []*cr
		to        int64
		wantImage string
		wantMsg   string
		wantErr   string
	}{
		"previous":          {tmpl: template("a:3"), revs: revs, to: 0, wantImage: "a:2", wantMsg: "rolled back"},
		"to revision 1":     {tmpl: template("a:3"), revs: revs, to: 1, wantImage: "a:1", wantMsg: "rolled back"},
		"already there":     {tmpl: template("a:3"), revs: revs, to: 3, wantMsg: "skipped rollback (current template already matches revision 3)"},
		"previous is same":  {tmpl: template("a:2"), revs: revs, to: 0, wantMsg: "skipped rollback (current template already matches revision 2)"},
		"unknown revision":  {tmpl: template("a:3"), revs: revs, to: 9, wantErr: "unable to find specified revision 9 in history"},
		"negative revision": {tmpl: template("a:3"), revs: revs, to: -1, wantErr: "unable to find specified revision -1 in history"},
		"no last revision":  {tmpl: template("a:1"), revs: revs[:1], to: 0, wantErr: "no last revision to roll back to"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rb, err := PlanRollback(tc.tmpl, tc.revs, tc.to)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rb.Message != tc.wantMsg || rb.Skipped != (tc.wantImage == "") {
				t.Fatalf("rollback %+v, want %q", rb, tc.wantMsg)
			}
			if tc.wantImage == "" {
				return
			}
			if img := rb.Template.GetSpec().GetContainers()[0].GetImage(); img != tc.wantImage {
				t.Fatalf("image %s, want %s", img, tc.wantImage)
			}
			// The restored template matches its revision again.
			if hp := hashKind.PlanHistory(Owner{Meta: ownerOf("").Meta, Template: rb.Template}, tc.revs); hp.Create != nil {
				t.Fatal("the restored template matches no revision")
			}
		})
	}
}

func TestOwnerOf(t *testing.T) {
	meta := &corev1.ObjectMeta{Name: "web"}
	tmpl := template("a:1")
	cases := map[string]struct {
		spec          Spec
		status        proto.Message
		wantLimit     *int32
		wantCollision *int32
	}{
		"daemon set, nil status":   {spec: &daemonsetv1.DaemonSetSpec{Template: tmpl}, status: (*daemonsetv1.DaemonSetStatus)(nil)},
		"daemon set, unset fields": {spec: &daemonsetv1.DaemonSetSpec{Template: tmpl}, status: &daemonsetv1.DaemonSetStatus{}},
		"daemon set, zeros set": {spec: &daemonsetv1.DaemonSetSpec{Template: tmpl, RevisionHistoryLimit: proto.Int32(0)},
			status: &daemonsetv1.DaemonSetStatus{CollisionCount: proto.Int32(0)}, wantLimit: proto.Int32(0), wantCollision: proto.Int32(0)},
		"stateful set": {spec: &statefulsetv1.StatefulSetSpec{Template: tmpl, RevisionHistoryLimit: proto.Int32(3)},
			status: &statefulsetv1.StatefulSetStatus{CollisionCount: proto.Int32(2)}, wantLimit: proto.Int32(3), wantCollision: proto.Int32(2)},
		"stateful set, nil spec": {spec: (*statefulsetv1.StatefulSetSpec)(nil), status: (*statefulsetv1.StatefulSetStatus)(nil)},
	}
	eq := func(a, b *int32) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := OwnerOf(meta, tc.spec, tc.status)
			if o.Meta != meta || o.Template != tc.spec.GetTemplate() || !eq(o.HistoryLimit, tc.wantLimit) || !eq(o.CollisionCount, tc.wantCollision) {
				t.Fatalf("owner %+v", o)
			}
		})
	}
}
