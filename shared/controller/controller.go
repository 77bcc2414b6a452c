// Package controller is the reconcile loop every controller runs: a keyed queue that
// deduplicates, N workers calling an idempotent, level-triggered Sync, rate-limited
// retries (per-key exponential back-off plus a global token bucket, capped), and a
// periodic resync of every key. Event handlers only Enqueue.
package controller

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"

	"github.com/podwarden/podwarden/shared/metrics"
)

// SyncFunc reconciles one key ("namespace/name"). It must be idempotent.
type SyncFunc func(ctx context.Context, key string) error

// BatchFunc reconciles several keys at once (each at most once per batch); it returns
// the keys that failed, with their errors (nil or empty: all done). A key in no batch is
// never synced twice at the same time, as with SyncFunc.
type BatchFunc func(ctx context.Context, keys []string) map[string]error

// ListFunc lists every key, for the periodic resync.
type ListFunc func(ctx context.Context) ([]string, error)

// Config describes a controller.
type Config struct {
	Name    string
	Workers int
	Sync    SyncFunc
	// SyncBatch, when set, is called instead of Sync with up to MaxBatch keys that are
	// waiting together (default 128): a loop whose keys share one transaction's cost.
	SyncBatch BatchFunc
	MaxBatch  int
	// List and Resync enable the periodic resync (Resync 0 disables it).
	List   ListFunc
	Resync time.Duration
	// MaxRetries before a failing key is dropped until its next event or resync (default 15).
	MaxRetries int
	Log        *slog.Logger
	// Metrics receives the queue's workqueue metrics and each sync's duration and
	// outcome, under Name. Nil: the ones carried by Run's context
	// (metrics.WithControllers), if any.
	Metrics *metrics.Controllers
}

// Controller runs Config.Sync for enqueued keys while Run is running.
type Controller struct {
	cfg   Config
	queue atomic.Pointer[workqueue.TypedRateLimitingInterface[string]]
	// metrics of the current Run (nil: none).
	metrics atomic.Pointer[metrics.Controllers]
}

// New returns a controller; it does nothing until Run.
func New(cfg Config) *Controller {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 128
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 15
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Controller{cfg: cfg}
}

// Enqueue adds a key; a no-op while the controller is not running (not leader).
func (c *Controller) Enqueue(key string) {
	if q := c.queue.Load(); q != nil {
		(*q).Add(key)
	}
}

// EnqueueAfter adds a key after a delay.
func (c *Controller) EnqueueAfter(key string, d time.Duration) {
	if q := c.queue.Load(); q != nil {
		(*q).AddAfter(key, d)
	}
}

// Running reports whether Run is processing keys.
func (c *Controller) Running() bool { return c.queue.Load() != nil }

// Len is the number of keys waiting.
func (c *Controller) Len() int {
	if q := c.queue.Load(); q != nil {
		return (*q).Len()
	}
	return 0
}

func newRateLimiter() workqueue.TypedRateLimiter[string] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 60*time.Second),
		&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(50), 300)},
	)
}

// Run processes keys until ctx ends. It can be called again after it returns
// (a new leadership term gets a fresh queue).
func (c *Controller) Run(ctx context.Context) {
	qcfg := workqueue.TypedRateLimitingQueueConfig[string]{Name: c.cfg.Name}
	m := c.cfg.Metrics
	if m == nil {
		m = metrics.ControllersFrom(ctx)
	}
	if m != nil && c.cfg.Name != "" {
		qcfg.MetricsProvider = m.Workqueue
		c.metrics.Store(m)
		defer m.Workqueue.QueueStopped(c.cfg.Name)
	}
	q := workqueue.NewTypedRateLimitingQueueWithConfig(newRateLimiter(), qcfg)
	c.queue.Store(&q)
	var wg sync.WaitGroup
	if c.cfg.SyncBatch != nil {
		batches := make(chan []string)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(batches)
			for {
				keys := c.nextBatch(q)
				if keys == nil {
					return
				}
				batches <- keys
			}
		}()
		for range c.cfg.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for keys := range batches {
					c.processBatch(ctx, q, keys)
				}
			}()
		}
	} else {
		for range c.cfg.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c.processNext(ctx, q) {
				}
			}()
		}
	}
	if c.cfg.List != nil {
		c.resyncAll(ctx, q)
		if c.cfg.Resync > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTicker(c.cfg.Resync)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						c.resyncAll(ctx, q)
					}
				}
			}()
		}
	}
	<-ctx.Done()
	c.queue.CompareAndSwap(&q, nil)
	q.ShutDown()
	wg.Wait()
}

func (c *Controller) resyncAll(ctx context.Context, q workqueue.TypedRateLimitingInterface[string]) {
	keys, err := c.cfg.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.cfg.Log.Warn("resync list failed", "controller", c.cfg.Name, "err", err)
		}
		return
	}
	for _, k := range keys {
		q.Add(k)
	}
}

// nextBatch waits for a key, then takes the keys already waiting behind it, up to
// MaxBatch. It is the queue's only reader in batch mode, so the keys it sees waiting
// are there to take. nil: shut down.
func (c *Controller) nextBatch(q workqueue.TypedRateLimitingInterface[string]) []string {
	key, shutdown := q.Get()
	if shutdown {
		return nil
	}
	keys := []string{key}
	for len(keys) < c.cfg.MaxBatch && q.Len() > 0 {
		k, shutdown := q.Get()
		if shutdown {
			break
		}
		keys = append(keys, k)
	}
	return keys
}

// processBatch syncs keys together and settles each as processNext settles one.
func (c *Controller) processBatch(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], keys []string) {
	start := time.Now()
	failed := c.cfg.SyncBatch(ctx, keys)
	took := time.Since(start)
	for _, key := range keys {
		err := failed[key]
		if m := c.metrics.Load(); m != nil && ctx.Err() == nil {
			m.ObserveSync(c.cfg.Name, took, err)
		}
		c.settle(ctx, q, key, err)
		q.Done(key)
	}
}

func (c *Controller) processNext(ctx context.Context, q workqueue.TypedRateLimitingInterface[string]) bool {
	key, shutdown := q.Get()
	if shutdown {
		return false
	}
	defer q.Done(key)
	start := time.Now()
	err := c.cfg.Sync(ctx, key)
	if m := c.metrics.Load(); m != nil && ctx.Err() == nil {
		m.ObserveSync(c.cfg.Name, time.Since(start), err)
	}
	c.settle(ctx, q, key, err)
	return true
}

// settle forgets a key that synced, retries one that failed (rate-limited, up to
// MaxRetries), and leaves it to the next leader when shutting down.
func (c *Controller) settle(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], key string, err error) {
	switch {
	case err == nil:
		q.Forget(key)
	case ctx.Err() != nil:
		// Shutting down: the next leader resyncs.
	case q.NumRequeues(key) < c.cfg.MaxRetries:
		c.cfg.Log.Debug("sync failed; retrying", "controller", c.cfg.Name, "key", key, "err", err)
		q.AddRateLimited(key)
	default:
		c.cfg.Log.Warn("sync failed; dropping key until its next change", "controller", c.cfg.Name, "key", key, "err", err)
		q.Forget(key)
	}
}
