package podview

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// claimPod is a pod of the view named name with labels app=app, controlled by
// owner (a ReplicaSet's uid; "" = an orphan).
func claimPod(t *testing.T, db *store.DB, name, app, owner string, deleting bool) {
	t.Helper()
	p := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default", Uid: name + "-uid",
		Labels: map[string]string{"app": app}}, Spec: &corev1.PodSpec{}}
	if owner != "" {
		p.Metadata.OwnerReferences = []*corev1.OwnerReference{ownerRef("ReplicaSet", owner, owner)}
	}
	if deleting {
		p.Metadata.DeletionTimestamp = timestamppb.Now()
	}
	setObservedVersion(p, 2)
	if _, err := Pods.Create(context.Background(), db.Pool, p); err != nil {
		t.Fatal(err)
	}
}

// controllers maps each pod of the view to its controller's uid ("" = none).
func controllers(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	pods, err := Pods.List(context.Background(), db.Pool, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods {
		out[p.Metadata.Name] = podutil.GetControllerOf(p.Metadata).GetUid()
	}
	return out
}

// TestOrphan: a Delete with propagationPolicy Orphan releases the owner's pods
// (in the view and through UPDATE commands) and leaves others' pods alone.
func TestOrphan(t *testing.T) {
	db := openDB(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	claimPod(t, db, "a", "web", "rs", false)
	claimPod(t, db, "b", "web", "rs", true)
	claimPod(t, db, "others", "web", "other", false)
	claimPod(t, db, "orphan", "web", "", false)
	inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
		return Orphan(ctx, tx, &corev1.ObjectMeta{Name: "rs", Namespace: "default", Uid: "rs"}, now)
	})
	if got := controllers(t, db); fmt.Sprint(got) != fmt.Sprint(map[string]string{"a": "", "b": "", "others": "other", "orphan": ""}) {
		t.Fatalf("controllers %v", got)
	}
	ops, cmds, _ := commands(t, db)
	sort.Strings(ops)
	if fmt.Sprint(ops) != "[OP_UPDATE:a OP_UPDATE:b]" {
		t.Fatalf("commands %v", ops)
	}
	for _, c := range cmds {
		if len(c.Pod.Metadata.OwnerReferences) != 0 {
			t.Fatalf("UPDATE of %s keeps %v", c.Pod.Metadata.Name, c.Pod.Metadata.OwnerReferences)
		}
	}
	// Nothing left to release: no more commands.
	inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
		return Orphan(ctx, tx, &corev1.ObjectMeta{Name: "rs", Namespace: "default", Uid: "rs"}, now.Add(time.Second))
	})
	if ops, _, _ := commands(t, db); len(ops) != 2 {
		t.Fatalf("second orphaning sent %v", ops)
	}
}

// TestCollectGarbage: pods whose controller is gone are deleted (once); pods of a
// live owner and pods without a controller stay.
func TestCollectGarbage(t *testing.T) {
	db := openDB(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	addOwner(t, db, "ReplicaSet", "live", "live")
	claimPod(t, db, "of-live", "web", "live", false)
	claimPod(t, db, "of-gone", "web", "gone", false)
	claimPod(t, db, "of-gone-deleting", "web", "gone", true)
	claimPod(t, db, "orphan", "web", "", false)
	for i := range 2 {
		inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
			return CollectGarbage(ctx, tx, now.Add(time.Duration(i)*time.Second))
		})
	}
	if ops, _, _ := commands(t, db); fmt.Sprint(ops) != "[OP_DELETE:of-gone]" {
		t.Fatalf("commands %v", ops)
	}
	pods, err := Pods.List(context.Background(), db.Pool, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		deleting := p.Metadata.DeletionTimestamp != nil
		if want := p.Metadata.Name == "of-gone" || p.Metadata.Name == "of-gone-deleting"; deleting != want {
			t.Fatalf("%s deleting %v, want %v", p.Metadata.Name, deleting, want)
		}
	}
}
