package apply

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"github.com/podwarden/podwarden/shared/apply/applytest"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"
)

// TestRecheckGuardsAdoption: an adoption planned from a cache that still holds its
// owner is written only while the owner, re-read locked, is the same object and not
// being deleted; the plan's first write is that recheck.
func TestRecheckGuardsAdoption(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	owner := store1(t, db, widgets, obj("rs", map[string]string{"app": "web"}, ""))
	store1(t, db, podview.Pods, obj("orphan", map[string]string{"app": "web"}, ""))
	hub := applytest.Hub(t, db)
	pods := watch.For(hub, podview.Pods, nil)
	if err := hub.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pods.Synced(ctx); err != nil {
		t.Fatal(err)
	}
	claimed, p := ClaimCached(pods, Recheck(widgets, owner.Metadata), owner.Metadata,
		podview.ControllerRefTo("apps/v1", "ReplicaSet", owner.Metadata),
		Selector{Matches: k8slabels.SelectorFromSet(k8slabels.Set{"app": "web"}), MatchLabels: map[string]string{"app": "web"}}, UpdatePod)
	if len(claimed) != 1 || len(p.Writes) != 2 || !p.Again || p.Writes[0].String() != "recheck Widget default/rs before adopting" {
		t.Fatalf("claimed %d, plan %v (again %v)", len(claimed), p.Writes, p.Again)
	}
	apply := func() error {
		return db.InTx(ctx, func(tx pgx.Tx) error { _, err := Apply(ctx, tx, now, Owner{}, p); return err })
	}

	// Being deleted: no adoption.
	deleting := applytest.Get(t, db, widgets, "default", "rs")
	deleting.Metadata.DeletionTimestamp = timestamppb.New(now)
	if _, err := widgets.Update(ctx, db.Pool, deleting); err != nil {
		t.Fatal(err)
	}
	if err := apply(); !errors.Is(err, ErrOwnerChanged) {
		t.Fatalf("adoption by an owner being deleted: %v", err)
	}
	// Gone, then another object under the same name: no adoption.
	if _, err := widgets.Delete(ctx, db.Pool, "default", "rs", ""); err != nil {
		t.Fatal(err)
	}
	if err := apply(); !errors.Is(err, ErrOwnerChanged) {
		t.Fatalf("adoption by a deleted owner: %v", err)
	}
	other := obj("rs", nil, "")
	other.Metadata.Uid = "another-uid"
	store1(t, db, widgets, other)
	if err := apply(); !errors.Is(err, ErrOwnerChanged) {
		t.Fatalf("adoption by a replaced owner: %v", err)
	}
	if got := applytest.Get(t, db, podview.Pods, "default", "orphan"); len(got.Metadata.OwnerReferences) != 0 {
		t.Fatalf("orphan adopted: %v", got.Metadata.OwnerReferences)
	}
	// The owner as read: adopted.
	if _, err := widgets.Delete(ctx, db.Pool, "default", "rs", ""); err != nil {
		t.Fatal(err)
	}
	store1(t, db, widgets, obj("rs", map[string]string{"app": "web"}, ""))
	if err := apply(); err != nil {
		t.Fatal(err)
	}
	if got := applytest.Get(t, db, podview.Pods, "default", "orphan"); got.Metadata.OwnerReferences[0].GetUid() != "rs-uid" {
		t.Fatalf("orphan not adopted: %v", got.Metadata.OwnerReferences)
	}
}

// TestSkipChanged: a pod deletion planned on a stale copy is skipped, not an error that
// fails the rest of the plan; without SkipChanged it fails the plan.
func TestSkipChanged(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	stale := store1(t, db, podview.Pods, obj("stale", nil, ""))
	fresh := store1(t, db, podview.Pods, obj("fresh", nil, ""))
	changed := applytest.Get(t, db, podview.Pods, "default", "stale")
	changed.Metadata.Labels = map[string]string{"moved": "on"}
	if _, err := podview.Pods.Update(ctx, db.Pool, changed); err != nil {
		t.Fatal(err)
	}
	var p Plan
	p.Add(DeletePod(stale).SkipChanged(), DeletePod(fresh).SkipChanged())
	var res Result
	inTx(t, db, func(ctx context.Context, tx pgx.Tx) (err error) {
		res, err = Apply(ctx, tx, now, Owner{}, p)
		return err
	})
	if res.Wrote != 1 || applytest.Get(t, db, podview.Pods, "default", "stale").Metadata.DeletionTimestamp != nil ||
		applytest.Get(t, db, podview.Pods, "default", "fresh").Metadata.DeletionTimestamp == nil {
		t.Fatalf("wrote %d: the stale pod must be left alone, the other marked", res.Wrote)
	}
	strict := Plan{Writes: []Write{DeletePod(stale)}}
	err := db.InTx(ctx, func(tx pgx.Tx) error { _, err := Apply(ctx, tx, now, Owner{}, strict); return err })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a strict deletion of a stale pod: %v, want a conflict", err)
	}
}

// TestNewTermSeesThePredecessorsWrites: the first sync of a leadership term waits until
// the caches hold every write committed before it (here, one the hub was not told of),
// so a new leader never plans on a cache that lags its predecessor's last writes.
func TestNewTermSeesThePredecessorsWrites(t *testing.T) {
	db := openDB(t)
	hub := applytest.Hub(t, db)
	pods := watch.For(hub, podview.Pods, nil)
	in := NewInformer(hub)
	term, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := pods.Synced(term); err != nil {
		t.Fatal(err)
	}
	store1(t, db, podview.Pods, obj("written-by-the-last-leader", nil, ""))
	planned := false
	_, _, err := SyncCached(term, db, in, func() time.Time { return now }, pods, podview.Pods, "default/written-by-the-last-leader", Owner{},
		func(*corev1.Pod, time.Time) (Plan, error) { planned = true; return Plan{}, nil })
	if err != nil || !planned {
		t.Fatalf("the term's first sync did not see the object (err %v)", err)
	}
}

// TestWriteRecordForgetsWhatTheCachesHold: the record of each key's last write (what a
// sync waits for) does not keep every key ever written: once it doubles, the writes the
// caches already hold are forgotten, and those still in flight are kept.
func TestWriteRecordForgetsWhatTheCachesHold(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	hub := applytest.Hub(t, db)
	if err := hub.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	in := NewInformer(hub)
	held := hub.Position()
	for i := range minPrune - 1 {
		in.wrote(fmt.Sprintf("Widget/default/gone-%d", i), held) // deleted objects: never synced again
	}
	in.wrote("Widget/default/in-flight", held+1000)
	if len(in.last) != 1 || in.last["Widget/default/in-flight"] != held+1000 {
		t.Fatalf("after %d writes the record holds %d keys, want only the one in flight", minPrune, len(in.last))
	}
}
