package watch

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func openDB(t *testing.T) *store.DB {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Postgres")
	}
	db, err := store.Open(context.Background(), testenv.PostgresDSN(t), testenv.Schema(t, "watch"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func runHub(t *testing.T, db *store.DB) *Hub {
	h := NewHub()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go h.Run(ctx, db, nil)
	return h
}

// readyPodCache is a loaded Pod cache over a fresh schema, fed by a running hub.
func readyPodCache(t *testing.T) (*store.DB, *Hub, *Cache[*corev1.Pod]) {
	db := openDB(t)
	h := runHub(t, db)
	c := For(h, podKind, nil)
	if err := c.waitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, h, c
}

// A transaction that drew a smaller resourceVersion but commits after a larger one must
// not be skipped: the cache stops below it until it commits, then delivers both in order.
func TestFeedWaitsForOpenTransactions(t *testing.T) {
	db, h, c := readyPodCache(t)
	ctx := context.Background()
	events := make(chan string, 10)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = c.Watch(wctx, WatchOptions{ResourceVersion: strconv.FormatInt(c.Stats().RV, 10)}, func(*corev1.Pod) bool { return true },
			func(typ string, p *corev1.Pod) error {
				events <- typ + " " + p.GetMetadata().GetName()
				return nil
			})
	}()

	slow, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx) //nolint:errcheck
	first, err := podKind.Create(ctx, slow, pod("slow", "web", 0))
	if err != nil {
		t.Fatal(err)
	}
	second, err := podKind.Create(ctx, db.Pool, pod("fast", "web", 0))
	if err != nil {
		t.Fatal(err)
	}
	if first.Metadata.ResourceVersion >= second.Metadata.ResourceVersion && len(first.Metadata.ResourceVersion) == len(second.Metadata.ResourceVersion) {
		t.Fatalf("rvs %s, %s", first.Metadata.ResourceVersion, second.Metadata.ResourceVersion)
	}
	h.Kick()
	// While the slow transaction is open, the feed must not pass its resourceVersion.
	firstRV, _ := strconv.ParseInt(first.Metadata.ResourceVersion, 10, 64)
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if rv := c.Stats().RV; rv >= firstRV {
			t.Fatalf("the cache reached %d while %d was still open", rv, firstRV)
		}
		select {
		case e := <-events:
			t.Fatalf("event %q before the older transaction committed", e)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	h.Kick()
	for _, want := range []string{"ADDED slow", "ADDED fast"} {
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event, want %q", want)
		}
	}
}

// Many concurrent writers: every watcher sees every change exactly once, in
// resourceVersion order, and the cache ends equal to the table.
func TestFeedUnderConcurrentWriters(t *testing.T) {
	db, h, c := readyPodCache(t)
	ctx := context.Background()
	var mu sync.Mutex
	var seen []int64
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = c.Watch(wctx, WatchOptions{ResourceVersion: strconv.FormatInt(c.Stats().RV, 10)}, func(*corev1.Pod) bool { return true },
			func(_ string, p *corev1.Pod) error {
				rv, _ := strconv.ParseInt(p.GetMetadata().GetResourceVersion(), 10, 64)
				mu.Lock()
				seen = append(seen, rv)
				mu.Unlock()
				return nil
			})
	}()
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
					p, err := podKind.Create(ctx, tx, pod(fmt.Sprintf("w%d-%d", w, i), "web", 0))
					if err != nil {
						return err
					}
					if i%3 == 0 {
						time.Sleep(time.Millisecond) // hold some transactions open longer
					}
					p.Metadata.Labels["n"] = "2"
					_, err = podKind.Update(ctx, tx, p)
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	h.Kick()
	testenv.Eventually(t, 10*time.Second, "every change seen", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= 2*writers*each
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2*writers*each {
		t.Fatalf("saw %d changes, want %d", len(seen), 2*writers*each)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("out of order at %d: %d after %d", i, seen[i], seen[i-1])
		}
	}
	res, err := c.List(ctx, ListOptions{}, func(*corev1.Pod) bool { return true })
	if err != nil || len(res.Items) != writers*each {
		t.Fatalf("list: %d items, %v", len(res.Items), err)
	}
}

// A cache that joins late (its first request comes after writes) starts from the table.
func TestCacheLoadsExistingObjects(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := podKind.Create(ctx, db.Pool, pod(fmt.Sprintf("p%d", i), "web", 0)); err != nil {
			t.Fatal(err)
		}
	}
	h := runHub(t, db)
	c := For(h, podKind, nil)
	res, err := c.List(ctx, ListOptions{}, web)
	if err != nil || names(res.Items) == "" || len(res.Items) != 3 {
		t.Fatalf("list: %v %v", names(res.Items), err)
	}
	if _, err := podKind.Delete(ctx, db.Pool, "default", "p1", ""); err != nil {
		t.Fatal(err)
	}
	res, err = c.List(ctx, ListOptions{}, web) // consistent: sees the delete
	if err != nil || len(res.Items) != 2 {
		t.Fatalf("after delete: %v %v", names(res.Items), err)
	}
}
