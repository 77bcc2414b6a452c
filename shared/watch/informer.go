package watch

import (
	"context"
	"sort"
	"strings"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"
)

// The informer side of a cache: what a controller reads instead of Postgres (client-go's
// informers and listers). A sync reads the cache, plans, and writes in a Postgres
// transaction with resourceVersion preconditions; a stale read ends in a conflict and
// a retry. The objects handed out are shared: never modify one (proto.Clone first).

// Synced waits until the cache has loaded (client-go's WaitForCacheSync).
func (c *Cache[T]) Synced(ctx context.Context) error { return c.waitReady(ctx) }

// Get returns the object namespace/name as the cache has it.
func (c *Cache[T]) Get(namespace, name string) (T, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.objs[namespace+"/"+name]
	return e.obj, ok
}

// Select returns the objects matching opts (its ForUpdate is meaningless here), sorted
// by namespace and name as store's List is. An owner uid, the objects without one, or
// a namespace is an index lookup; labels are matched on what the index gives.
func (c *Cache[T]) Select(opts store.ListOptions) []T {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var keys []string
	switch {
	case opts.OwnerUID != "":
		for k := range c.byOwner[opts.OwnerUID] {
			keys = append(keys, k)
		}
	case opts.Unowned:
		// Orphans are few: a claim's look for them costs them, not the namespace.
		for k := range c.byOwner[unownedIn(opts.Namespace)] {
			keys = append(keys, k)
		}
	case opts.Namespace != "":
		for k := range c.byNamespace[opts.Namespace] {
			keys = append(keys, k)
		}
	default:
		keys = make([]string, 0, len(c.objs))
		for k := range c.objs {
			keys = append(keys, k)
		}
	}
	// Filtered first, then sorted: a label selector's few matches are all that is
	// sorted.
	var matched []string
	for _, k := range keys {
		if selects(opts, c.objs[k].obj) {
			matched = append(matched, k)
		}
	}
	if len(matched) == 0 {
		return nil
	}
	sort.Strings(matched)
	out := make([]T, len(matched))
	for i, k := range matched {
		out[i] = c.objs[k].obj
	}
	return out
}

// selects is store.ListOptions' filter on one object.
func selects[T store.Object](opts store.ListOptions, obj T) bool {
	m := obj.GetMetadata()
	if opts.Namespace != "" && m.GetNamespace() != opts.Namespace {
		return false
	}
	owner := podutil.GetControllerOf(m).GetUid()
	if opts.OwnerUID != "" && owner != opts.OwnerUID || opts.Unowned && owner != "" {
		return false
	}
	for k, v := range opts.Labels {
		if got, ok := m.GetLabels()[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// OnChange registers fn for every change the cache applies from now on, in
// resourceVersion order, after the cache holds it (client-go's event handlers: what fn
// enqueues is read back from the cache at or after this change). fn runs on the feed:
// it must be quick (enqueue a key) and must not wait for the cache.
func (c *Cache[T]) OnChange(fn func(Event[T])) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers = append(c.handlers, fn)
}

func (c *Cache[T]) fire(events []Event[T]) {
	if len(events) == 0 {
		return
	}
	c.mu.RLock()
	handlers := c.handlers
	c.mu.RUnlock()
	for _, e := range events {
		for _, fn := range handlers {
			fn(e)
		}
	}
}

// indexLocked adds (or removes) key, holding obj, to the indexes.
func (c *Cache[T]) indexLocked(key string, obj T, add bool) {
	m := obj.GetMetadata()
	ns, _, _ := strings.Cut(key, "/")
	indexSet(c.byNamespace, ns, key, add)
	if uid := podutil.GetControllerOf(m).GetUid(); uid != "" {
		indexSet(c.byOwner, uid, key, add)
	} else {
		indexSet(c.byOwner, unownedIn(ns), key, add)
		indexSet(c.byOwner, unownedIn(""), key, add)
	}
}

// unownedIn is the byOwner entry of the objects without a controller in namespace ns
// ("": in every namespace); no uid looks like it.
func unownedIn(ns string) string { return "\x00unowned/" + ns }

func indexSet(index map[string]map[string]struct{}, value, key string, add bool) {
	set := index[value]
	if add {
		if set == nil {
			set = map[string]struct{}{}
			index[value] = set
		}
		set[key] = struct{}{}
		return
	}
	delete(set, key)
	if len(set) == 0 {
		delete(index, value)
	}
}

// Seen waits until the hub has handed every change up to rv to its caches: a sync waits
// for its own last write before it reads (so it never plans on a cache older than what
// it wrote).
func (h *Hub) Seen(ctx context.Context, rv int64) error {
	for {
		h.seenMu.Lock()
		pos, moved := h.seen, h.seenCh
		h.seenMu.Unlock()
		if pos >= rv {
			return nil
		}
		h.wake()
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Position is the resourceVersion up to which the hub has handed every change to its
// caches (what Seen waits for).
func (h *Hub) Position() int64 {
	h.seenMu.Lock()
	defer h.seenMu.Unlock()
	return h.seen
}

// Sync waits until the hub has handed over every change committed before the call: a
// consistent read of every cache follows (tests; a controller's first read).
func (h *Hub) Sync(ctx context.Context) error {
	latest, err := h.latest(ctx)
	if err != nil {
		return err
	}
	return h.Seen(ctx, latest)
}

// advance publishes the feed's new position to Seen.
func (h *Hub) advance(pos int64) {
	h.seenMu.Lock()
	defer h.seenMu.Unlock()
	if pos > h.seen {
		h.seen = pos
		close(h.seenCh)
		h.seenCh = make(chan struct{})
	}
}
