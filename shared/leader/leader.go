// Package leader elects one replica of a service to run its controllers, with a
// lease row in the service's own Postgres schema. Every replica serves the API;
// only the leader reconciles. A lost lease ends the term; a graceful stop releases
// the lease so another replica takes over at once, a crash within TTL.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/store"
)

// Elector campaigns for a named lease.
type Elector struct {
	DB       *store.DB
	Name     string
	Identity string
	// TTL of the lease (default 5s); it is renewed every TTL/4.
	TTL    time.Duration
	Log    *slog.Logger
	leader atomic.Bool
}

// IsLeader reports whether this replica leads now.
func (e *Elector) IsLeader() bool { return e.leader.Load() }

func (e *Elector) ttl() time.Duration {
	if e.TTL <= 0 {
		return 5 * time.Second
	}
	return e.TTL
}

// tryAcquire takes or renews the lease; false when another holder's lease is live.
func (e *Elector) tryAcquire(ctx context.Context) (bool, error) {
	var holder string
	err := e.DB.Pool.QueryRow(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
		WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now()
		RETURNING holder`, e.Name, e.Identity, e.ttl().Milliseconds()).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", e.Name, err)
	}
	return true, nil
}

func (e *Elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = e.DB.Pool.Exec(ctx, "DELETE FROM leases WHERE name=$1 AND holder=$2", e.Name, e.Identity)
}

// Run campaigns until ctx ends; for each term it calls lead with a context that is
// cancelled when the lease is lost, and waits for lead to return before campaigning again.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) {
	retry := e.ttl() / 4
	for ctx.Err() == nil {
		ok, err := e.tryAcquire(ctx)
		if err != nil && ctx.Err() == nil {
			e.Log.Warn("leader election failed", "lease", e.Name, "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
			continue
		}
		e.term(ctx, lead)
	}
}

func (e *Elector) term(ctx context.Context, lead func(ctx context.Context)) {
	e.Log.Info("became leader", "lease", e.Name, "identity", e.Identity)
	e.leader.Store(true)
	termCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(termCtx)
	}()
	t := time.NewTicker(e.ttl() / 4)
	defer t.Stop()
	lastRenew := time.Now()
	for {
		select {
		case <-done:
			cancel()
			e.leader.Store(false)
			e.release()
			return
		case <-t.C:
			ok, err := e.tryAcquire(termCtx)
			if ok {
				lastRenew = time.Now()
				continue
			}
			// A failed renewal is tolerated while the lease is surely still ours.
			if err != nil && time.Since(lastRenew) < e.ttl()/2 {
				continue
			}
			e.Log.Warn("lost leadership", "lease", e.Name, "err", err)
			e.leader.Store(false)
			cancel()
			<-done
			return
		}
	}
}
