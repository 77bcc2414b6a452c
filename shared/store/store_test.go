package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var pods = store.Kind[*corev1.Pod]{Name: "Pod", New: func() *corev1.Pod { return &corev1.Pod{} }, Watch: true}

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.PostgresDSN(t), testenv.Schema(t, "store"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func pod(name string, labels map[string]string, owner string) *corev1.Pod {
	p := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default", Labels: labels}}
	if owner != "" {
		c := true
		p.Metadata.OwnerReferences = []*corev1.OwnerReference{{Kind: "ReplicaSet", Uid: owner, Controller: &c}}
	}
	return p
}

func TestCreateGetUpdateDelete(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	created, err := pods.Create(ctx, db.Pool, pod("a", map[string]string{"app": "x"}, ""))
	if err != nil {
		t.Fatal(err)
	}
	m := created.Metadata
	if m.Uid == "" || m.ResourceVersion == "" || m.Generation != 1 || m.CreationTimestamp == nil {
		t.Fatalf("create did not fill metadata: %v", m)
	}
	if _, err := pods.Create(ctx, db.Pool, pod("a", nil, "")); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("duplicate create: got %v, want ErrAlreadyExists", err)
	}
	got, err := pods.Get(ctx, db.Pool, "default", "a")
	if err != nil || got.Metadata.ResourceVersion != m.ResourceVersion {
		t.Fatalf("get: %v %v", got, err)
	}
	stale := got.Metadata.ResourceVersion
	got.Metadata.Labels["app"] = "y"
	updated, err := pods.Update(ctx, db.Pool, got)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Metadata.ResourceVersion == stale {
		t.Fatal("update did not bump resourceVersion")
	}
	got.Metadata.ResourceVersion = stale
	if _, err := pods.Update(ctx, db.Pool, got); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: got %v, want ErrConflict", err)
	}
	got.Metadata.ResourceVersion = ""
	if _, err := pods.Update(ctx, db.Pool, got); err != nil {
		t.Fatalf("unconditional update: %v", err)
	}
	if _, err := pods.Delete(ctx, db.Pool, "default", "a", "wrong-uid"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete with wrong uid: got %v, want ErrConflict", err)
	}
	if _, err := pods.Delete(ctx, db.Pool, "default", "a", m.Uid); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, db.Pool, "default", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: got %v, want ErrNotFound", err)
	}
	if _, err := pods.Delete(ctx, db.Pool, "default", "a", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: got %v, want ErrNotFound", err)
	}
}

func TestListFiltersAndChangeLog(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	start, err := store.CurrentRV(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{
		pod("a", map[string]string{"app": "x", "tier": "web"}, "rs1"),
		pod("b", map[string]string{"app": "x"}, "rs2"),
		pod("c", map[string]string{"app": "z"}, "rs1"),
	} {
		if _, err := pods.Create(ctx, db.Pool, p); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		opts store.ListOptions
		want []string
	}{
		"all":          {opts: store.ListOptions{}, want: []string{"a", "b", "c"}},
		"by owner":     {opts: store.ListOptions{OwnerUID: "rs1"}, want: []string{"a", "c"}},
		"by labels":    {opts: store.ListOptions{Labels: map[string]string{"app": "x"}}, want: []string{"a", "b"}},
		"other ns":     {opts: store.ListOptions{Namespace: "other"}, want: nil},
		"owner+labels": {opts: store.ListOptions{OwnerUID: "rs1", Labels: map[string]string{"tier": "web"}}, want: []string{"a"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := pods.List(ctx, db.Pool, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range got {
				names = append(names, p.Metadata.Name)
			}
			if len(names) != len(tc.want) {
				t.Fatalf("got %v, want %v", names, tc.want)
			}
			for i := range names {
				if names[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", names, tc.want)
				}
			}
		})
	}
	if _, err := pods.Delete(ctx, db.Pool, "default", "b", ""); err != nil {
		t.Fatal(err)
	}
	changes, err := store.ReadChanges(ctx, db.Pool, start, math.MaxInt64, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, c := range changes {
		if c.Kind == pods.Name {
			types = append(types, c.Type+":"+c.Name)
		}
	}
	want := []string{"ADDED:a", "ADDED:b", "ADDED:c", "DELETED:b"}
	if len(types) != len(want) {
		t.Fatalf("changes %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("changes %v, want %v", types, want)
		}
	}
}

func TestNotificationsAndOutboxAreTransactional(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openDB(t)
	var mu sync.Mutex
	var got []string
	go db.Listen(ctx, testLog(t), func(ch, payload string) {
		if payload == "" {
			return
		}
		mu.Lock()
		got = append(got, ch+":"+payload)
		mu.Unlock()
	}, "objects", "outbox")
	seen := func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, g := range got {
			if g == s {
				return true
			}
		}
		return false
	}
	// Wait until LISTEN is active: notifications before it are covered by the catch-up call.
	testenv.Eventually(t, 5*time.Second, "listener", func() bool {
		_, _ = pods.Create(ctx, db.Pool, pod("probe", nil, ""))
		_, _ = pods.Delete(ctx, db.Pool, "default", "probe", "")
		return seen("objects:Pod/default/probe")
	})
	// A rolled-back transaction leaves neither rows nor notifications nor outbox messages.
	errRollback := errors.New("rollback")
	err := db.InTx(ctx, func(tx pgxTx) error {
		if _, err := pods.Create(ctx, tx, pod("ghost", nil, "")); err != nil {
			return err
		}
		if err := store.Enqueue(ctx, tx, "pods.cmd.default", "ghost", pod("ghost", nil, "")); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx pgxTx) error {
		if _, err := pods.Create(ctx, tx, pod("real", nil, "")); err != nil {
			return err
		}
		return store.Enqueue(ctx, tx, "pods.cmd.default", "real", pod("real", nil, ""))
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "notification of real", func() bool { return seen("objects:Pod/default/real") })
	if seen("objects:Pod/default/ghost") {
		t.Fatal("rolled-back create was notified")
	}
	pending, err := store.PendingOutbox(ctx, db.Pool, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].MsgID != "real" {
		t.Fatalf("outbox %v, want only 'real'", pending)
	}
}

// TestDuplicateCreateKeepsTransactionUsable: a name clash inside a transaction is
// reported as ErrAlreadyExists and the transaction can go on (Postgres aborts a
// transaction on a unique violation, so Create must not cause one).
func TestDuplicateCreateKeepsTransactionUsable(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if _, err := pods.Create(ctx, db.Pool, pod("a", nil, "")); err != nil {
		t.Fatal(err)
	}
	err := db.InTx(ctx, func(tx pgxTx) error {
		if _, err := pods.Create(ctx, tx, pod("a", nil, "")); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("duplicate: %v", err)
		}
		_, err := pods.Create(ctx, tx, pod("b", nil, ""))
		return err
	})
	if err != nil {
		t.Fatalf("transaction unusable after a duplicate create: %v", err)
	}
	if _, err := pods.Get(ctx, db.Pool, "default", "b"); err != nil {
		t.Fatal(err)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	for _, n := range []string{"b", "a"} {
		if _, err := pods.Create(ctx, db.Pool, pod(n, nil, "")); err != nil {
			t.Fatal(err)
		}
	}
	other := store.Kind[*corev1.Pod]{Name: "NotAPod", New: pods.New}
	if _, err := other.Create(ctx, db.Pool, pod("c", nil, "")); err != nil {
		t.Fatal(err)
	}
	keys, err := pods.Keys(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	if fmt.Sprint(keys) != "[default/a default/b]" {
		t.Fatalf("keys %v, want the kind's own only", keys)
	}
}

// TestChangesAfterTakesTheIndex: ChangesAfter answers whether the change log has news
// after a resourceVersion, and its statement's generic plan (what a prepared statement
// runs after a few executions) reads the primary key's index from that version instead
// of scanning the log from its oldest entry; the hubs run it on every notification.
func TestChangesAfterTakesTheIndex(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	var many []*corev1.Pod
	for i := range 2000 {
		many = append(many, pod(fmt.Sprintf("p%d", i), nil, ""))
	}
	if _, err := pods.CreateMany(ctx, db.Pool, many); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, "ANALYZE changes"); err != nil {
		t.Fatal(err)
	}
	last, err := store.CurrentRV(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	for rv, want := range map[int64]bool{last - 1: true, last: false, last + 10: false} {
		if got, err := store.ChangesAfter(ctx, conn, rv); err != nil || got != want {
			t.Fatalf("ChangesAfter(%d) = %v, %v; want %v", rv, got, err, want)
		}
	}
	var name string
	if err := conn.QueryRow(ctx, "SELECT name FROM pg_prepared_statements WHERE statement LIKE '%FROM changes WHERE resource_version > $1%' AND statement NOT LIKE '%pg_prepared_statements%'").Scan(&name); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("EXPLAIN EXECUTE %q(%d)", name, last-1))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); !strings.Contains(p, "Index") || strings.Contains(p, "Seq Scan") {
		t.Fatalf("generic plan:\n%s", p)
	}
}
