package clusterdns

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Feeder keeps an Index current from the node service's watch caches of Services and
// Endpoints, as an informer does: one watch of each kind from the newest state
// (sendInitialEvents), then every change in resourceVersion order. Until both have sent
// their state the Index is nil; a watch that ends (410 after a stall) starts again.
type Feeder struct {
	Services  *watch.Cache[*nodev1.Service]
	Endpoints *watch.Cache[*nodev1.Endpoints]
	Log       *slog.Logger

	idx atomic.Pointer[Index]

	mu     sync.Mutex
	svcs   map[string]*nodev1.Service
	eps    map[string]*nodev1.Endpoints
	synced [2]bool
	serial uint32
}

// Index is the current index (nil until the first state).
func (f *Feeder) Index() *Index { return f.idx.Load() }

// Run follows both kinds until ctx ends.
func (f *Feeder) Run(ctx context.Context) {
	f.svcs, f.eps = map[string]*nodev1.Service{}, map[string]*nodev1.Endpoints{}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		follow(ctx, f, 0, f.Services, func(k string, s *nodev1.Service) { setOrDelete(f.svcs, k, s) }, func() { clear(f.svcs) })
	}()
	go func() {
		defer wg.Done()
		follow(ctx, f, 1, f.Endpoints, func(k string, e *nodev1.Endpoints) { setOrDelete(f.eps, k, e) }, func() { clear(f.eps) })
	}()
	wg.Wait()
}

func setOrDelete[T store.Object](m map[string]T, k string, v T) {
	if v.GetMetadata() == nil { // the zero value: gone
		delete(m, k)
		return
	}
	m[k] = v
}

// follow runs one kind's watch (again after it ends). set applies an object (the zero
// value: gone) and clear empties the kind, both under f.mu.
func follow[T store.Object](ctx context.Context, f *Feeder, which int, c *watch.Cache[T], set func(key string, obj T), clear func()) {
	yes := true
	for ctx.Err() == nil {
		initial := map[string]T{}
		err := c.Watch(ctx, watch.WatchOptions{ResourceVersionMatch: watch.MatchNotOlderThan, SendInitialEvents: &yes, AllowWatchBookmarks: true},
			func(T) bool { return true },
			func(typ string, obj T) error {
				m := obj.GetMetadata()
				rv, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
				k := objKey(m.GetNamespace(), m.GetName())
				f.mu.Lock()
				defer f.mu.Unlock()
				f.serial = max(f.serial, uint32(rv))
				switch {
				case initial != nil && typ == watch.Bookmark && m.GetAnnotations()[watch.InitialEventsEnd] == "true":
					clear()
					for k, o := range initial {
						set(k, o)
					}
					initial = nil
					f.synced[which] = true
					f.rebuild()
				case typ == watch.Bookmark:
				case initial != nil:
					initial[k] = obj
				default:
					var zero T
					if typ == store.Deleted {
						obj = zero
					}
					set(k, obj)
					if f.synced[0] && f.synced[1] {
						f.idx.Store(f.idx.Load().With(m.GetNamespace(), m.GetName(), f.svcs[k], f.eps[k], f.serial))
					}
				}
				return nil
			})
		if ctx.Err() == nil {
			f.Log.Warn("cluster dns: watch ended; starting again", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// rebuild makes the index anew from both kinds, once both have their state. Called
// with f.mu held.
func (f *Feeder) rebuild() {
	if !f.synced[0] || !f.synced[1] {
		return
	}
	svcs := make([]*nodev1.Service, 0, len(f.svcs))
	for _, s := range f.svcs {
		svcs = append(svcs, s)
	}
	eps := make([]*nodev1.Endpoints, 0, len(f.eps))
	for _, e := range f.eps {
		eps = append(eps, e)
	}
	f.idx.Store(NewIndex(svcs, eps, f.serial))
}

// objKey is the case-preserving "namespace/name" of the feeder's maps.
func objKey(namespace, name string) string { return namespace + "/" + name }
