package clusterdns

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// DefaultRebuild is how often the Feeder rebuilds its index from a full list,
// the safety net under the change log.
const DefaultRebuild = 10 * time.Second

// changeBatch bounds the change-log entries read per query.
const changeBatch = 500

// Feeder keeps an Index current from the store on any replica, as an informer
// does: a full list (Services and Endpoints at one resource version), then the
// change log from there, read whenever a notification of either kind arrives
// (or every second), and a full rebuild every Rebuild.
type Feeder struct {
	DB  *store.DB
	Hub *watch.Hub
	Log *slog.Logger
	// Rebuild is the period of the full rebuild (default DefaultRebuild).
	Rebuild time.Duration

	idx atomic.Pointer[Index]
}

// Index is the current index (nil until the first list).
func (f *Feeder) Index() *Index { return f.idx.Load() }

type feedState struct {
	svcs         map[string]*nodev1.Service
	eps          map[string]*nodev1.Endpoints
	svcRV, epsRV int64
}

// Run follows the store until ctx ends.
func (f *Feeder) Run(ctx context.Context) {
	rebuild := f.Rebuild
	if rebuild <= 0 {
		rebuild = DefaultRebuild
	}
	for ctx.Err() == nil {
		st, err := f.load(ctx)
		if err != nil {
			if ctx.Err() == nil {
				f.Log.Warn("cluster dns: list services and endpoints", "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if err := f.follow(ctx, st, rebuild); err != nil && ctx.Err() == nil {
			f.Log.Warn("cluster dns: read the change log", "err", err)
		}
	}
}

func (f *Feeder) load(ctx context.Context) (*feedState, error) {
	var svcs []*nodev1.Service
	var eps []*nodev1.Endpoints
	var rv int64
	err := pgx.BeginTxFunc(ctx, f.DB.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if rv, err = store.CurrentRV(ctx, tx); err != nil {
			return err
		}
		if svcs, err = repo.Services.List(ctx, tx, store.ListOptions{}); err != nil {
			return err
		}
		eps, err = repo.Endpoints.List(ctx, tx, store.ListOptions{})
		return err
	})
	if err != nil {
		return nil, err
	}
	st := &feedState{svcs: map[string]*nodev1.Service{}, eps: map[string]*nodev1.Endpoints{}, svcRV: rv, epsRV: rv}
	for _, s := range svcs {
		st.svcs[objKey(s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())] = s
	}
	for _, e := range eps {
		st.eps[objKey(e.GetMetadata().GetNamespace(), e.GetMetadata().GetName())] = e
	}
	f.idx.Store(NewIndex(svcs, eps, uint32(rv)))
	return st, nil
}

// objKey is the case-preserving "namespace/name" of the feeder's maps.
func objKey(namespace, name string) string { return namespace + "/" + name }

// follow applies the change log until rebuild elapses, ctx ends or a read fails.
func (f *Feeder) follow(ctx context.Context, st *feedState, rebuild time.Duration) error {
	deadline := time.NewTimer(rebuild)
	defer deadline.Stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		wakeSvc, wakeEps := f.Hub.Wait(repo.Services.Name), f.Hub.Wait(repo.Endpoints.Name)
		if err := f.apply(ctx, st); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-deadline.C:
			return nil
		case <-wakeSvc:
		case <-wakeEps:
		case <-poll.C:
		}
	}
}

// apply reads the changes of both kinds since the cursors and publishes an
// index with the touched Services recomputed.
func (f *Feeder) apply(ctx context.Context, st *feedState) error {
	touched := map[string][2]string{}
	for {
		changes, err := repo.Services.ChangesSince(ctx, f.DB.Pool, st.svcRV, changeBatch)
		if err != nil {
			return err
		}
		for _, c := range changes {
			st.svcRV = c.RV
			m := c.Object.GetMetadata()
			k := objKey(m.GetNamespace(), m.GetName())
			if c.Type == store.Deleted {
				delete(st.svcs, k)
			} else {
				st.svcs[k] = c.Object
			}
			touched[k] = [2]string{m.GetNamespace(), m.GetName()}
		}
		if len(changes) < changeBatch {
			break
		}
	}
	for {
		changes, err := repo.Endpoints.ChangesSince(ctx, f.DB.Pool, st.epsRV, changeBatch)
		if err != nil {
			return err
		}
		for _, c := range changes {
			st.epsRV = c.RV
			m := c.Object.GetMetadata()
			k := objKey(m.GetNamespace(), m.GetName())
			if c.Type == store.Deleted {
				delete(st.eps, k)
			} else {
				st.eps[k] = c.Object
			}
			touched[k] = [2]string{m.GetNamespace(), m.GetName()}
		}
		if len(changes) < changeBatch {
			break
		}
	}
	if len(touched) == 0 {
		return nil
	}
	idx := f.idx.Load()
	serial := uint32(max(st.svcRV, st.epsRV))
	for k, nn := range touched {
		idx = idx.With(nn[0], nn[1], st.svcs[k], st.eps[k], serial)
	}
	f.idx.Store(idx)
	return nil
}
