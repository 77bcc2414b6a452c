package watch

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/store"
)

// The window of recent changes a cache keeps, as kube-apiserver's watch cache does:
// every change younger than Fresh, at least MinEvents and at most MaxEvents of them.
// A watch or an exact list from an older resourceVersion is 410 Gone.
var (
	Fresh     = 75 * time.Second
	MinEvents = 100
	MaxEvents = 100 * 1024
)

// Event is one change in a cache's window.
type Event[T store.Object] struct {
	// Type is the change log's: ADDED, MODIFIED or DELETED.
	Type string
	// Object is the object after the change (for DELETED, as it was when deleted), at RV.
	Object T
	// Prev is the object just before the change; HasPrev is false when there was none.
	Prev    T
	HasPrev bool
	RV      int64
	Key     string
	at      time.Time
}

type entry[T store.Object] struct {
	obj T
	rv  int64
}

type change[T store.Object] struct {
	typ string
	obj T
	rv  int64
	key string
}

type pendingFeed[T store.Object] struct {
	changes []change[T]
	rv      int64
}

// Cache is the watch cache of one kind: its objects and its window of recent changes.
// The objects it hands out are shared: callers must not modify them (proto.Clone first).
type Cache[T store.Object] struct {
	hub     *Hub
	kind    store.Kind[T]
	prepare func(T)

	mu      sync.RWMutex
	objs    map[string]entry[T]
	rv      int64 // the objects are the kind's state at rv (once ready)
	start   int64 // the window holds every change after start
	events  []Event[T]
	loaded  bool
	pending []pendingFeed[T]
	readyAt int64
	ready   chan struct{}
	changed chan struct{} // closed when events are added
	moved   chan struct{} // closed when rv moves

	// The informer side (informer.go): indexes of objs and the handlers of changes.
	byNamespace map[string]map[string]struct{}
	byOwner     map[string]map[string]struct{}
	handlers    []func(Event[T])
}

// For returns the hub's cache of kind, creating it (it loads in the background once the
// hub runs). prepare, when set, is applied to every object once as it enters the cache
// (type meta).
func For[T store.Object](h *Hub, kind store.Kind[T], prepare func(T)) *Cache[T] {
	h.regMu.Lock()
	defer h.regMu.Unlock()
	if c, ok := h.caches[kind.Name]; ok {
		return c.(*Cache[T])
	}
	if prepare == nil {
		prepare = func(T) {}
	}
	c := newCache(h, kind, prepare)
	h.caches[kind.Name] = c
	go c.load()
	return c
}

// newCache returns an empty cache, not loaded.
func newCache[T store.Object](h *Hub, kind store.Kind[T], prepare func(T)) *Cache[T] {
	return &Cache[T]{
		hub: h, kind: kind, prepare: prepare,
		objs:        map[string]entry[T]{},
		byNamespace: map[string]map[string]struct{}{}, byOwner: map[string]map[string]struct{}{},
		ready: make(chan struct{}), changed: make(chan struct{}), moved: make(chan struct{}),
	}
}

func key(m interface {
	GetNamespace() string
	GetName() string
}) string {
	return m.GetNamespace() + "/" + m.GetName()
}

// load joins the feed, lists the kind, and then applies what the feed brought meanwhile.
func (c *Cache[T]) load() {
	h := c.hub
	<-h.started
	ctx := h.ctx
	db, pos, err := h.join(ctx, c.kind.Name, c)
	if err != nil {
		return
	}
	var items []T
	for {
		err = pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			var err error
			items, err = c.kind.List(ctx, tx, store.ListOptions{})
			return err
		})
		if err == nil || ctx.Err() != nil {
			break
		}
		h.log.Warn("watch cache: list", "kind", c.kind.Name, "err", err)
		sleep(ctx, 500*time.Millisecond)
	}
	if ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	var fired []Event[T]
	defer func() {
		c.mu.Unlock()
		c.fire(fired)
	}()
	top := pos
	for _, o := range items {
		c.prepare(o)
		rv, _ := strconv.ParseInt(o.GetMetadata().GetResourceVersion(), 10, 64)
		k := key(o.GetMetadata())
		c.objs[k] = entry[T]{obj: o, rv: rv}
		c.indexLocked(k, o, true)
		top = max(top, rv)
	}
	// The list may already show changes after pos (committed between the join and the
	// list): they come again from the feed and are skipped by their resourceVersion.
	// The state is exact once the feed has passed every one of them.
	c.rv, c.start, c.readyAt, c.loaded = pos, top, top, true
	for _, p := range c.pending {
		fired = append(fired, c.applyLocked(p.changes, p.rv)...)
	}
	c.pending = nil
	c.checkReadyLocked()
}

// feed is called by the hub with the kind's changes up to rv.
func (c *Cache[T]) feed(raw []store.RawChange, rv int64) {
	dec := make([]change[T], 0, len(raw))
	for _, r := range raw {
		obj, err := c.kind.Decode(r.Data, r.RV)
		if err != nil {
			c.hub.log.Error("watch cache: skip an undecodable change", "kind", c.kind.Name, "rv", r.RV, "err", err)
			continue
		}
		c.prepare(obj)
		dec = append(dec, change[T]{typ: r.Type, obj: obj, rv: r.RV, key: r.Namespace + "/" + r.Name})
	}
	c.mu.Lock()
	if !c.loaded {
		c.pending = append(c.pending, pendingFeed[T]{changes: dec, rv: rv})
		c.mu.Unlock()
		return
	}
	fired := c.applyLocked(dec, rv)
	c.mu.Unlock()
	c.fire(fired)
}

// applyLocked applies the changes up to rv; it returns them as events for the handlers
// (none when there are no handlers).
func (c *Cache[T]) applyLocked(dec []change[T], rv int64) (fired []Event[T]) {
	now := time.Now()
	added := false
	for _, d := range dec {
		cur, ok := c.objs[d.key]
		if ok && cur.rv >= d.rv || !ok && d.typ == store.Deleted {
			continue // already in the loaded list, or gone before it
		}
		ev := Event[T]{Type: d.typ, Object: d.obj, Prev: cur.obj, HasPrev: ok, RV: d.rv, Key: d.key, at: now}
		if d.rv > c.start {
			c.events = append(c.events, ev)
			added = true
		}
		if len(c.handlers) > 0 {
			fired = append(fired, ev)
		}
		if ok {
			c.indexLocked(d.key, cur.obj, false)
		}
		if d.typ == store.Deleted {
			delete(c.objs, d.key)
		} else {
			c.objs[d.key] = entry[T]{obj: d.obj, rv: d.rv}
			c.indexLocked(d.key, d.obj, true)
		}
	}
	if added {
		c.trimLocked(now)
		close(c.changed)
		c.changed = make(chan struct{})
	}
	if rv > c.rv {
		c.rv = rv
		close(c.moved)
		c.moved = make(chan struct{})
	}
	c.checkReadyLocked()
	return fired
}

func (c *Cache[T]) checkReadyLocked() {
	select {
	case <-c.ready:
	default:
		if c.loaded && c.rv >= c.readyAt {
			close(c.ready)
		}
	}
}

func (c *Cache[T]) trimLocked(now time.Time) {
	n, drop := len(c.events), 0
	for drop < n && (n-drop > MaxEvents || n-drop > MinEvents && now.Sub(c.events[drop].at) > Fresh) {
		drop++
	}
	if drop == 0 {
		return
	}
	c.start = c.events[drop-1].RV
	clear(c.events[:drop])
	c.events = c.events[drop:]
}

// Stats are a cache's sizes, for metrics and tests.
type Stats struct {
	Objects, Events int
	RV, Start       int64
}

// Stats returns the cache's sizes.
func (c *Cache[T]) Stats() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Stats{Objects: len(c.objs), Events: len(c.events), RV: c.rv, Start: c.start}
}

// keyed is an object with its key, for sorted lists.
type keyed[T store.Object] struct {
	key string
	obj T
}

// stateAtLocked returns the objects matching match as they were at rv (rv >= c.start),
// sorted by key.
func (c *Cache[T]) stateAtLocked(rv int64, match func(T) bool) []keyed[T] {
	type past struct {
		obj     T
		present bool
	}
	var over map[string]past
	for i := len(c.events) - 1; i >= 0 && c.events[i].RV > rv; i-- {
		if over == nil {
			over = map[string]past{}
		}
		e := c.events[i]
		over[e.Key] = past{obj: e.Prev, present: e.HasPrev}
	}
	out := make([]keyed[T], 0, len(c.objs))
	for k, e := range c.objs {
		if p, ok := over[k]; ok {
			if p.present && match(p.obj) {
				out = append(out, keyed[T]{k, p.obj})
			}
			continue
		}
		if match(e.obj) {
			out = append(out, keyed[T]{k, e.obj})
		}
	}
	for k, p := range over {
		if _, ok := c.objs[k]; !ok && p.present && match(p.obj) {
			out = append(out, keyed[T]{k, p.obj})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// waitReady waits until the cache has loaded.
func (c *Cache[T]) waitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitFor waits until the cache has seen rv; after maxWait it gives up with ok false and
// the rv it has.
func (c *Cache[T]) waitFor(ctx context.Context, rv int64, maxWait time.Duration) (cur int64, ok bool, err error) {
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	for {
		c.mu.RLock()
		cur, moved := c.rv, c.moved
		c.mu.RUnlock()
		if cur >= rv {
			return cur, true, nil
		}
		c.hub.wake()
		select {
		case <-moved:
		case <-ctx.Done():
			return cur, false, ctx.Err()
		case <-timer.C:
			return cur, false, nil
		}
	}
}
