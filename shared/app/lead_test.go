package app

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var podKind = store.Kind[*corev1.Pod]{Name: "Pod", New: func() *corev1.Pod { return &corev1.Pod{} }, Watch: true}

// TestLeadsOnceTheCachesHaveLoaded: chaos seed 40. A replica restarted while its lease
// was still live took it back at once and its controllers resynced before their
// caches had listed; a Deployment deleted in between came in the cache's first list
// (no event), so the garbage collector, woken only by events after its first resync,
// left its ReplicaSets to the next resync (30 s). A replica now leads only once every
// cache of its hub has loaded.
func TestLeadsOnceTheCachesHaveLoaded(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postgres and NATS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, schema := testenv.PostgresDSN(t), testenv.Schema(t, "app")
	a, err := New(ctx, schema, Config{PostgresDSN: dsn, NATSURL: testenv.NATS(t).URL, GRPCAddr: "127.0.0.1:0",
		ReplicaID: "r1", LeaseTTL: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cache := watch.For(a.Watch, podKind, nil)

	// The cache's list waits behind this lock until it is released.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{schema, "objects"}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	led := make(chan bool, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- a.Run(runCtx, nil, func(ctx context.Context) {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
			loaded := cache.Synced(cctx) == nil
			cancel()
			select {
			case led <- loaded:
			default:
			}
			<-ctx.Done()
		})
	}()
	defer func() {
		stop()
		<-done
	}()
	select {
	case loaded := <-led:
		t.Fatalf("the replica led while its cache was loading (loaded: %v)", loaded)
	case <-time.After(3 * time.Second):
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case loaded := <-led:
		if !loaded {
			t.Fatal("the replica led before its cache had loaded")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the replica did not lead once its cache had loaded")
	}
}
