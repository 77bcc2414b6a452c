package bus

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podwarden/podwarden/shared/store"
)

// Relay publishes the transactional outbox of a schema to JetStream and deletes what
// was acked. At-least-once: a crash between publish and delete republishes, and the
// Nats-Msg-Id makes JetStream drop the duplicate.
type Relay struct {
	DB   *store.DB
	Bus  *Bus
	Log  *slog.Logger
	wake chan struct{}
	// published counts the messages the relay published and deleted.
	published prometheus.Counter
}

// NewRelay returns a relay; call Wake on outbox notifications and Run in the leader.
func NewRelay(db *store.DB, b *Bus, log *slog.Logger) *Relay {
	return &Relay{DB: db, Bus: b, Log: log, wake: make(chan struct{}, 1), published: newPublishedCounter()}
}

// Wake makes the relay look at the outbox now.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run drains the outbox on every wake-up and every second until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for {
			n, err := r.drainOnce(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.Log.Warn("outbox relay failed; retrying", "err", err)
				}
				break
			}
			if n < 1000 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
	}
}

func (r *Relay) drainOnce(ctx context.Context) (int, error) {
	pending, err := store.PendingOutbox(ctx, r.DB.Pool, 1000)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	msgs := make([]Message, len(pending))
	ids := make([]int64, len(pending))
	for i, p := range pending {
		msgs[i] = Message{Subject: p.Subject, MsgID: p.MsgID, Data: p.Data}
		ids[i] = p.ID
	}
	if err := r.Bus.PublishBatch(ctx, msgs); err != nil {
		return 0, err
	}
	if err := store.DeleteOutbox(ctx, r.DB.Pool, ids); err != nil {
		return 0, err
	}
	if r.published != nil {
		r.published.Add(float64(len(pending)))
	}
	return len(pending), nil
}
