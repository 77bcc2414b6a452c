// Package applytest reads back what a sync wrote, for tests that run a
// controller's sync against a real Postgres (no NATS): the rows of a kind, the
// pod commands in the outbox, the events.
package applytest

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"

	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
)

// OpenDB opens a fresh schema of the test Postgres with a service's migrations.
func OpenDB(t testing.TB, prefix string, migrations fs.FS) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.PostgresDSN(t), testenv.Schema(t, prefix), migrations)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// Commands are the pod commands waiting in the outbox, as "OP_CREATE:name", sorted.
func Commands(t testing.TB, db *store.DB) []string {
	t.Helper()
	pending, err := store.PendingOutbox(context.Background(), db.Pool, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, m := range pending {
		var cmd eventsv1.PodCommand
		if err := proto.Unmarshal(m.Data, &cmd); err != nil {
			continue // not a pod command
		}
		if cmd.GetPod().GetMetadata() == nil {
			continue
		}
		ops = append(ops, cmd.Op.String()+":"+cmd.Pod.Metadata.Name)
	}
	sort.Strings(ops)
	return ops
}

// ClearOutbox forgets the commands sent so far (as the outbox relay does).
func ClearOutbox(t testing.TB, db *store.DB) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), "DELETE FROM outbox"); err != nil {
		t.Fatal(err)
	}
}

// Names are the names of the stored objects of kind, sorted, "(deleting)" after
// those with a deletionTimestamp.
func Names[T store.Object](t testing.TB, db *store.DB, k store.Kind[T]) []string {
	t.Helper()
	var out []string
	for _, o := range List(t, db, k) {
		n := o.GetMetadata().GetName()
		if o.GetMetadata().GetDeletionTimestamp() != nil {
			n += "(deleting)"
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// List reads every stored object of kind.
func List[T store.Object](t testing.TB, db *store.DB, k store.Kind[T]) []T {
	t.Helper()
	objs, err := k.List(context.Background(), db.Pool, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// Events are the recorded events as "Kind/name Reason: message", sorted.
func Events(t testing.TB, db *store.DB) []string {
	t.Helper()
	var out []string
	for _, e := range List(t, db, events.Kind) {
		out = append(out, fmt.Sprintf("%s/%s %s: %s", e.InvolvedObject.GetKind(), e.InvolvedObject.GetName(), e.Reason, e.Message))
	}
	sort.Strings(out)
	return out
}

// Equal fails t unless got prints as want ("[a b]").
func Equal(t testing.TB, what string, got []string, want string) {
	t.Helper()
	if fmt.Sprint(got) != want {
		t.Fatalf("%s: %v, want %s", what, got, want)
	}
}

// Get reads one stored object.
func Get[T store.Object](t testing.TB, db *store.DB, k store.Kind[T], namespace, name string) T {
	t.Helper()
	obj, err := k.Get(context.Background(), db.Pool, namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// DeleteForeground marks a stored object as a Delete with propagationPolicy
// Foreground does: deletionTimestamp at and the foregroundDeletion finalizer.
func DeleteForeground[T store.Object](t testing.TB, db *store.DB, k store.Kind[T], namespace, name string, at time.Time) {
	t.Helper()
	obj := Get(t, db, k, namespace, name)
	obj.GetMetadata().DeletionTimestamp = timestamppb.New(at)
	obj.GetMetadata().Finalizers = append(obj.GetMetadata().Finalizers, crud.FinalizerForeground)
	if _, err := k.Update(context.Background(), db.Pool, obj); err != nil {
		t.Fatal(err)
	}
}

// PodsGone removes every pod of the view, as the node service's DELETED events do.
func PodsGone(t testing.TB, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	pods, err := podview.Pods.List(ctx, db.Pool, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if _, err := podview.Pods.Delete(ctx, db.Pool, p.Metadata.Namespace, p.Metadata.Name, p.Metadata.Uid); err != nil {
			t.Fatal(err)
		}
	}
}
