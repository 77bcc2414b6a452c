package applytest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"
)

// Hub runs a watch hub over db (the feed of a controller's caches) until the test ends.
func Hub(t testing.TB, db *store.DB) *watch.Hub {
	t.Helper()
	hub := watch.NewHub()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() { cancel(); <-done })
	return hub
}

// Snapshot is what a cache holds, for RunSynced's check.
type Snapshot func() []proto.Message

// All is c's objects.
func All[T store.Object](c *watch.Cache[T]) Snapshot {
	return func() []proto.Message {
		var out []proto.Message
		for _, o := range c.Select(store.ListOptions{}) {
			out = append(out, o)
		}
		return out
	}
}

// RunSynced runs one sync of key once hub's caches hold every write so far (what the
// test wrote straight to Postgres), and fails the test if the sync failed or modified
// an object of the caches (they are shared with the API and every other sync).
func RunSynced(t testing.TB, hub *watch.Hub, sync func(context.Context, string) error, key string, caches ...Snapshot) {
	t.Helper()
	ctx := context.Background()
	if err := hub.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	type seen struct{ obj, was proto.Message }
	var before []seen
	for _, c := range caches {
		for _, o := range c() {
			before = append(before, seen{o, proto.Clone(o)})
		}
	}
	if err := sync(ctx, key); err != nil {
		t.Fatalf("sync %s: %v", key, err)
	}
	for _, s := range before {
		if !proto.Equal(s.obj, s.was) {
			t.Fatalf("sync %s modified a cached object: %v, was %v", key, s.obj, s.was)
		}
	}
}
