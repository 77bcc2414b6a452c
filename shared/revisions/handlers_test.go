package revisions_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var dsKind = revisions.Kind{OwnerKind: "DaemonSet"}

// history is the DaemonSet service's history over a fresh schema.
func history(t *testing.T) revisions.Handlers[*daemonsetv1.DaemonSet, revisions.Entry] {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.PostgresDSN(t), testenv.Schema(t, "revisions"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	r := &crud.Resource[*daemonsetv1.DaemonSet]{
		Kind:       store.Kind[*daemonsetv1.DaemonSet]{Name: "DaemonSet", New: func() *daemonsetv1.DaemonSet { return &daemonsetv1.DaemonSet{} }},
		APIVersion: "apps/v1", KindName: "DaemonSet", Namespaced: true, DB: db, Hub: watch.NewHub(),
		GR: apierr.GroupResource{Group: "apps", Resource: "daemonsets"}, GK: apierr.GroupKind{Group: "apps", Kind: "DaemonSet"},
		TypeMeta:  func(d *daemonsetv1.DaemonSet) (*string, *string) { return &d.ApiVersion, &d.Kind },
		SpecEqual: func(a, b *daemonsetv1.DaemonSet) bool { return proto.Equal(a.Spec, b.Spec) },
	}
	return revisions.Handlers[*daemonsetv1.DaemonSet, revisions.Entry]{
		R:           r,
		Template:    func(d *daemonsetv1.DaemonSet) *corev1.PodTemplateSpec { return d.GetSpec().GetTemplate() },
		SetTemplate: func(d *daemonsetv1.DaemonSet, t *corev1.PodTemplateSpec) { d.Spec.Template = t },
		Entry:       func(e revisions.Entry) revisions.Entry { return e },
	}
}

func templateOf(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		Metadata: &corev1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: image}}},
	}
}

// list is ListControllerRevisions over the stored revisions (from Postgres:
// no watch cache runs here).
func list(ctx context.Context, db *store.DB, ns, labelSelector string) ([]*revisions.Revision, error) {
	res, err := revisions.Resource(db, nil).List(ctx, ns, crud.ListOptions{LabelSelector: labelSelector})
	return res.Items, err
}

// applyWrites applies writes in one transaction.
func applyWrites(t *testing.T, db *store.DB, writes []apply.Write) (apply.Result, error) {
	t.Helper()
	var res apply.Result
	err := db.InTx(context.Background(), func(tx pgx.Tx) error {
		var err error
		res, err = apply.Apply(context.Background(), tx, time.Now(), apply.Owner{}, apply.Plan{Writes: writes})
		return err
	})
	return res, err
}

// syncHistory is the history half of a controller's sync: plan, then apply
// Plan.Writes (a collision counted with apply.CountCollision).
func syncHistory(t *testing.T, h revisions.Handlers[*daemonsetv1.DaemonSet, revisions.Entry], name string) (revisions.Plan, bool) {
	t.Helper()
	ctx := context.Background()
	var plan revisions.Plan
	var collided bool
	err := h.R.DB.InTx(ctx, func(tx pgx.Tx) error {
		ds, err := h.R.Kind.Get(ctx, tx, "default", name)
		if err != nil {
			return err
		}
		owned, err := revisions.Store.List(ctx, tx, store.ListOptions{Namespace: "default", OwnerUID: ds.Metadata.Uid})
		if err != nil {
			return err
		}
		plan = dsKind.PlanHistory(revisions.OwnerOf(ds.Metadata, ds.Spec, ds.Status), owned)
		res, err := apply.Apply(ctx, tx, time.Now(), apply.Owner{}, apply.Plan{Writes: plan.Writes(apply.CountCollision(h.R.Kind, ds))})
		collided = res.Collision
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return plan, collided
}

func setImage(t *testing.T, h revisions.Handlers[*daemonsetv1.DaemonSet, revisions.Entry], name, image string) {
	t.Helper()
	ds, err := h.R.Get(context.Background(), "default", name)
	if err != nil {
		t.Fatal(err)
	}
	ds.Spec.Template = templateOf(image)
	if _, err := h.R.Update(context.Background(), "default", name, ds, nil); err != nil {
		t.Fatal(err)
	}
}

func images(es []revisions.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Template.GetSpec().GetContainers()[0].GetImage())
	}
	return out
}

// A DaemonSet's history through the shared writes and handlers, on Postgres:
// two templates, history, one revision, undo, undo skipped, the list.
func TestHistoryRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := history(t)
	if _, err := h.R.Create(ctx, "default", &daemonsetv1.DaemonSet{Metadata: &corev1.ObjectMeta{Name: "web"},
		Spec: &daemonsetv1.DaemonSetSpec{Template: templateOf("a:1")}}, nil); err != nil {
		t.Fatal(err)
	}
	if p, collided := syncHistory(t, h, "web"); p.Create == nil || collided {
		t.Fatalf("first sync: plan %+v, collided %v", p, collided)
	}
	if p, _ := syncHistory(t, h, "web"); p.Create != nil || p.BumpRevision {
		t.Fatalf("second sync wrote again: %+v", p)
	}
	setImage(t, h, "web", "a:2")
	syncHistory(t, h, "web")

	es, err := h.History(ctx, "default", "web")
	if err != nil || len(es) != 2 || es[0].Revision != 1 || es[1].Revision != 2 || images(es)[0] != "a:1" || images(es)[1] != "a:2" {
		t.Fatalf("history %+v (%v), err %v", es, images(es), err)
	}
	e, err := h.Revision(ctx, "default", "web", 1)
	if err != nil || e.Template.GetSpec().GetContainers()[0].GetImage() != "a:1" {
		t.Fatalf("revision 1: %+v, err %v", e, err)
	}
	if _, err := h.Revision(ctx, "default", "web", 9); status.Code(err) != codes.NotFound {
		t.Fatalf("revision 9: err %v, want NotFound", err)
	}
	if _, err := h.History(ctx, "default", "nope"); status.Code(err) != codes.NotFound {
		t.Fatalf("history of a missing DaemonSet: err %v, want NotFound", err)
	}

	ds, msg, err := h.Rollback(ctx, "default", "web", 0)
	if err != nil || msg != "rolled back" || ds.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage() != "a:1" {
		t.Fatalf("undo: %v %q, err %v", ds.GetSpec().GetTemplate(), msg, err)
	}
	if p, _ := syncHistory(t, h, "web"); !p.BumpRevision || p.Current.GetRevision() != 3 {
		t.Fatalf("after undo revision 1 is renumbered 3: %+v", p)
	}
	if _, msg, err := h.Rollback(ctx, "default", "web", 3); err != nil || msg != "skipped rollback (current template already matches revision 3)" {
		t.Fatalf("undo to the current revision: %q, err %v", msg, err)
	}
	if _, _, err := h.Rollback(ctx, "default", "web", 7); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("undo to a missing revision: err %v, want InvalidArgument", err)
	}

	all, err := list(ctx, h.R.DB, "", "app=web")
	if err != nil || len(all) != 2 || all[0].GetKind() != "ControllerRevision" || all[0].GetApiVersion() != "apps/v1" {
		t.Fatalf("list: %v, err %v", all, err)
	}
	if none, err := list(ctx, h.R.DB, "default", "app=other"); err != nil || len(none) != 0 {
		t.Fatalf("list app=other: %v, err %v", none, err)
	}
	if _, err := list(ctx, h.R.DB, "", "app in ("); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad selector: err %v", err)
	}

	if _, err := applyWrites(t, h.R.DB, revisions.Deletes(all)); err != nil {
		t.Fatal(err)
	}
	if _, err := applyWrites(t, h.R.DB, revisions.Deletes(all)); err != nil {
		t.Fatalf("deleting revisions already gone: %v", err)
	}
	if left, _ := list(ctx, h.R.DB, "", ""); len(left) != 0 {
		t.Fatalf("left after truncate: %v", left)
	}
}

// A revision of another template under the new revision's name is a hash
// collision: the owner's collisionCount goes up and the next sync names the
// revision differently. The same revision under the name is reused.
func TestWriteCollision(t *testing.T) {
	ctx := context.Background()
	h := history(t)
	created, err := h.R.Create(ctx, "default", &daemonsetv1.DaemonSet{Metadata: &corev1.ObjectMeta{Name: "web"},
		Spec: &daemonsetv1.DaemonSetSpec{Template: templateOf("a:1")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := revisions.OwnerOf(created.Metadata, created.Spec, created.Status)
	squatter := dsKind.NewRevision(revisions.OwnerOf(created.Metadata, &daemonsetv1.DaemonSetSpec{Template: templateOf("b:1")}, created.Status), revisions.Hash(o), 1)
	if _, err := revisions.Store.Create(ctx, h.R.DB.Pool, squatter); err != nil {
		t.Fatal(err)
	}
	if p, collided := syncHistory(t, h, "web"); !collided || p.Create.GetMetadata().GetName() != squatter.GetMetadata().GetName() {
		t.Fatalf("want a collision on %s: plan %+v, collided %v", squatter.GetMetadata().GetName(), p, collided)
	}
	ds, err := h.R.Get(ctx, "default", "web")
	if err != nil || ds.GetStatus().GetCollisionCount() != 1 {
		t.Fatalf("collisionCount %d, err %v", ds.GetStatus().GetCollisionCount(), err)
	}
	p, collided := syncHistory(t, h, "web")
	if collided || p.Create == nil || p.Create.GetMetadata().GetName() == squatter.GetMetadata().GetName() {
		t.Fatalf("after the bump: plan %+v, collided %v", p, collided)
	}

	// The same revision already stored (a write raced by another): reused, no
	// collision counted.
	never := apply.CountCollision(store.Kind[*revisions.Revision]{Name: "NoOwner"}, &revisions.Revision{})
	res, err := applyWrites(t, h.R.DB, revisions.Plan{Create: proto.CloneOf(p.Create)}.Writes(never))
	if err != nil || res.Collision || res.Wrote != 1 {
		t.Fatalf("rewrite: %+v, err %v", res, err)
	}
}
