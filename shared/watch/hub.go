// Package watch is the watch cache of a service: for every watchable kind, an in-memory
// copy of its objects and a window of its recent changes, filled by one list at start and
// kept current from the schema's change log in resourceVersion order. It serves
// Kubernetes' watch and list semantics (resume from a resourceVersion judged against the
// state at that point, bookmarks, initial events, 410 Gone, exact and not-older-than
// lists, paging over a consistent snapshot) without a query per request.
//
// The Hub is one per schema: it reads the change log up to the schema's horizon (the
// newest resourceVersion below which nothing can still commit, see store.Horizon) and
// hands each kind's changes to its Cache. Writes stay Postgres transactions.
package watch

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podwarden/podwarden/shared/store"
)

// Hub feeds the watch caches of one schema and wakes code waiting for changes of a kind.
type Hub struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}

	// feedMu is held by a poll of the change log and by a cache joining the feed, so a
	// cache joins exactly between two polls.
	feedMu  sync.Mutex
	ctx     context.Context
	db      *store.DB
	log     *slog.Logger
	pos     int64 // every change at or below pos has been handed to the caches
	sinks   map[string]sink
	started chan struct{}
	once    sync.Once
	kick    chan struct{}
	forced  atomic.Bool

	regMu  sync.Mutex
	caches map[string]any

	// seen is pos as Seen reads it; seenCh is closed when it moves.
	seenMu sync.Mutex
	seen   int64
	seenCh chan struct{}

	// latestRV, when set, replaces the schema's newest resourceVersion (tests).
	latestRV func() int64
}

// sink is a cache as the feed sees it.
type sink interface {
	// feed hands over the kind's changes in (previous rv, rv], oldest first (maybe none).
	feed(changes []store.RawChange, rv int64)
}

// NewHub returns a hub; Run starts its feed.
func NewHub() *Hub {
	return &Hub{
		waiters: map[string]chan struct{}{},
		sinks:   map[string]sink{},
		started: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		caches:  map[string]any{},
		seenCh:  make(chan struct{}),
	}
}

// Notify takes a "Kind/namespace/name" payload ("" wakes every kind): it wakes the
// waiters of the kind and the feed.
func (h *Hub) Notify(payload string) {
	kind, _, _ := strings.Cut(payload, "/")
	h.mu.Lock()
	for k, ch := range h.waiters {
		if payload == "" || k == kind {
			close(ch)
			delete(h.waiters, k)
		}
	}
	h.mu.Unlock()
	h.Kick()
}

// Kick makes the feed read the change log now.
func (h *Hub) Kick() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Wait returns a channel closed at the next change of kind.
func (h *Hub) Wait(kind string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.waiters[kind]
	if !ok {
		ch = make(chan struct{})
		h.waiters[kind] = ch
	}
	return ch
}

// pollEvery bounds how long a change can wait for the feed when a notification is lost
// (or its kind sends none); lagEvery is how soon the feed looks again while transactions
// below the newest resourceVersion are still open (their commit notifies it at once; a
// rollback does not).
// minGap spaces the reads under a stream of notifications: a change waits at most that
// long for a feed that has just read, and the feed costs a few queries per gap, not per
// write.
var (
	pollEvery = time.Second
	lagEvery  = 20 * time.Millisecond
	minGap    = 10 * time.Millisecond
)

// feedBatch is how many change log entries one read takes.
const feedBatch = 2000

// KeepChanges is how long the change log keeps an entry: the caches read it as it comes,
// a restarted service reloads from the objects, so an hour only covers a long stall.
var KeepChanges = time.Hour

const trimEvery = 5 * time.Minute

// Run feeds the caches from db's change log until ctx ends. Call it once.
func (h *Hub) Run(ctx context.Context, db *store.DB, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	for ctx.Err() == nil {
		hz, _, err := store.Horizon(ctx, db.Pool)
		if err == nil {
			h.feedMu.Lock()
			h.ctx, h.db, h.log, h.pos = ctx, db, log, hz
			h.feedMu.Unlock()
			h.advance(hz)
			break
		}
		log.Warn("watch cache: read the change log horizon", "err", err)
		sleep(ctx, 500*time.Millisecond)
	}
	if ctx.Err() != nil {
		return
	}
	h.once.Do(func() { close(h.started) })
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	trim := time.NewTicker(trimEvery)
	defer trim.Stop()
	for {
		polled := time.Now()
		lagging, err := h.poll(ctx)
		if ctx.Err() != nil {
			return
		}
		var soon <-chan time.Time
		if err != nil {
			log.Warn("watch cache: read the change log", "err", err)
			soon = time.After(500 * time.Millisecond)
		} else if lagging {
			soon = time.After(lagEvery)
		}
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		case <-tick.C:
			h.forced.Store(true)
		case <-soon:
			h.forced.Store(true)
		case <-trim.C:
			if err := store.TrimChanges(ctx, db.Pool, KeepChanges); err != nil && ctx.Err() == nil {
				log.Warn("watch cache: trim the change log", "err", err)
			}
		}
		sleep(ctx, minGap-time.Since(polled))
	}
}

// Loaded waits until every cache of the hub has loaded (client-go's
// WaitForCacheSync). A change committed while a cache still loads comes in its first
// list, not as an event: a controller that resynced before then would not hear of it
// until its next resync (a Deployment deleted then: the garbage collector, woken by
// its deletion, would leave its ReplicaSets for 30 s). So a replica leads only once
// its caches have loaded (app.Run): its first resync reads everything older than
// their lists, their events bring everything newer.
func (h *Hub) Loaded(ctx context.Context) error {
	type loader interface {
		waitReady(ctx context.Context) error
	}
	h.regMu.Lock()
	caches := make([]loader, 0, len(h.caches))
	for _, c := range h.caches {
		caches = append(caches, c.(loader))
	}
	h.regMu.Unlock()
	for _, c := range caches {
		if err := c.waitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

// wake makes the feed look now and move its position to the horizon even when no new
// change of a watched kind came (a reader waits for a resourceVersion).
func (h *Hub) wake() {
	h.forced.Store(true)
	h.Kick()
}

// poll hands every committed change up to the horizon to the caches. lagging reports
// that newer resourceVersions were drawn by transactions still open.
func (h *Hub) poll(ctx context.Context) (lagging bool, err error) {
	h.feedMu.Lock()
	defer h.feedMu.Unlock()
	if len(h.sinks) == 0 {
		// A cache that joins lists the objects after it joins: nothing to feed, but a
		// reader waiting in Seen may move the position.
		if !h.forced.Swap(false) {
			return false, nil
		}
		hz, latest, err := store.Horizon(ctx, h.db.Pool)
		if err != nil || hz <= h.pos {
			return err == nil && latest > h.pos, err
		}
		h.pos = hz
		h.advance(hz)
		return latest > hz, nil
	}
	if !h.forced.Swap(false) {
		// Notified: the horizon (which reads pg_locks) only when the log has news.
		news, err := store.ChangesAfter(ctx, h.db.Pool, h.pos)
		if err != nil || !news {
			return false, err
		}
	}
	hz, latest, err := store.Horizon(ctx, h.db.Pool)
	if err != nil {
		return false, err
	}
	if hz <= h.pos {
		return latest > h.pos, nil
	}
	for {
		changes, err := store.ReadChanges(ctx, h.db.Pool, h.pos, hz, feedBatch)
		if err != nil {
			return false, err
		}
		upTo := hz
		if len(changes) == feedBatch {
			upTo = changes[len(changes)-1].RV
		}
		byKind := map[string][]store.RawChange{}
		for _, c := range changes {
			byKind[c.Kind] = append(byKind[c.Kind], c)
		}
		for kind, s := range h.sinks {
			s.feed(byKind[kind], upTo)
		}
		h.pos = upTo
		h.advance(upTo)
		if upTo == hz {
			return latest > hz, nil
		}
	}
}

// join adds s to the feed and returns the position from which it is fed: it must
// load the kind's objects after join returns. It blocks until Run has started.
func (h *Hub) join(ctx context.Context, kind string, s sink) (*store.DB, int64, error) {
	select {
	case <-h.started:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	h.feedMu.Lock()
	defer h.feedMu.Unlock()
	h.sinks[kind] = s
	return h.db, h.pos, nil
}

// latest is the newest resourceVersion drawn in the schema: a cache that has seen it
// serves a consistent read.
func (h *Hub) latest(ctx context.Context) (int64, error) {
	if h.latestRV != nil {
		return h.latestRV(), nil
	}
	select {
	case <-h.started:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return store.CurrentRV(ctx, h.db.Pool)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
