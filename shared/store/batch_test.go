package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// TestManyWritesAreOneWriteEach: CreateMany, GetManyForUpdate and UpdateMany do what
// Create, GetForUpdate and Update do per object, change log included; a stale
// object fails the whole UpdateMany and writes nothing.
func TestManyWritesAreOneWriteEach(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if _, err := pods.Create(ctx, db.Pool, pod("taken", nil, "")); err != nil {
		t.Fatal(err)
	}
	start, err := store.CurrentRV(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	objs := []*corev1.Pod{pod("a", map[string]string{"app": "x"}, "rs-1"), pod("taken", nil, ""), pod("b", nil, "")}
	created, err := pods.CreateMany(ctx, db.Pool, objs)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(created) != "[true false true]" {
		t.Fatalf("created %v, want [true false true]", created)
	}
	for _, i := range []int{0, 2} {
		got, err := pods.Get(ctx, db.Pool, "default", objs[i].Metadata.Name)
		if err != nil || got.Metadata.ResourceVersion != objs[i].Metadata.ResourceVersion || got.Metadata.Uid != objs[i].Metadata.Uid {
			t.Fatalf("get %s: %v %v, want rv %s", objs[i].Metadata.Name, got.GetMetadata(), err, objs[i].Metadata.ResourceVersion)
		}
	}
	if owned, _ := pods.List(ctx, db.Pool, store.ListOptions{OwnerUID: "rs-1"}); len(owned) != 1 {
		t.Fatalf("owner index: %d pods of rs-1, want 1", len(owned))
	}

	var locked map[string]*corev1.Pod
	if err := db.InTx(ctx, func(tx pgxTx) error {
		var err error
		locked, err = pods.GetManyForUpdate(ctx, tx, []string{"default/b", "default/a", "default/missing"})
		if err != nil {
			return err
		}
		upd := []*corev1.Pod{locked["default/a"], locked["default/b"]}
		for _, p := range upd {
			p.Metadata.Labels = map[string]string{"step": "2"}
		}
		return pods.UpdateMany(ctx, tx, upd)
	}); err != nil {
		t.Fatal(err)
	}
	if len(locked) != 2 || locked["default/missing"] != nil {
		t.Fatalf("locked %d, want a and b", len(locked))
	}
	if got, _ := pods.List(ctx, db.Pool, store.ListOptions{Labels: map[string]string{"step": "2"}}); len(got) != 2 {
		t.Fatalf("%d pods updated, want 2", len(got))
	}
	changes, err := store.ReadChanges(ctx, db.Pool, start, 1<<62, 100)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, c := range changes {
		log = append(log, c.Type+" "+c.Name)
	}
	if fmt.Sprint(log) != "[ADDED a ADDED b MODIFIED a MODIFIED b]" && fmt.Sprint(log) != "[ADDED a ADDED b MODIFIED b MODIFIED a]" {
		t.Fatalf("change log %v", log)
	}

	// One stale object: nothing is written.
	a, _ := pods.Get(ctx, db.Pool, "default", "a")
	b, _ := pods.Get(ctx, db.Pool, "default", "b")
	b.Metadata.ResourceVersion = "1"
	a.Metadata.Labels["step"], b.Metadata.Labels["step"] = "3", "3"
	err = db.InTx(ctx, func(tx pgxTx) error { return pods.UpdateMany(ctx, tx, []*corev1.Pod{a, b}) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale UpdateMany: %v, want ErrConflict", err)
	}
	if got, _ := pods.List(ctx, db.Pool, store.ListOptions{Labels: map[string]string{"step": "3"}}); len(got) != 0 {
		t.Fatalf("%d pods written by a failed UpdateMany", len(got))
	}
}

// TestEnqueueManyKeepsOrder: the relay publishes in outbox order, and a batch's
// messages keep the order they were given in.
func TestEnqueueManyKeepsOrder(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	var items []store.OutboxItem
	for _, s := range []string{"z", "a", "m"} {
		items = append(items, store.OutboxItem{Subject: "pods.events." + s, MsgID: s, Msg: pod(s, nil, "")})
	}
	if err := store.EnqueueMany(ctx, db.Pool, items); err != nil {
		t.Fatal(err)
	}
	pending, err := store.PendingOutbox(ctx, db.Pool, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pending {
		got = append(got, p.MsgID)
	}
	if fmt.Sprint(got) != "[z a m]" {
		t.Fatalf("outbox order %v, want [z a m]", got)
	}
}
