package store

import (
	"context"
	"log/slog"
	"time"
)

// Listen LISTENs on the schema's channels (names without the schema prefix, e.g.
// "objects", "outbox") on a dedicated connection and calls fn for every notification,
// until ctx ends. It reconnects after errors; after a reconnect it calls fn with an
// empty payload for every channel, since notifications may have been missed.
func (db *DB) Listen(ctx context.Context, log *slog.Logger, fn func(channel, payload string), channels ...string) {
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, fn, channels)
		if ctx.Err() != nil {
			return
		}
		log.Warn("listen for notifications failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (db *DB) listenOnce(ctx context.Context, fn func(channel, payload string), channels []string) error {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	full := make(map[string]string, len(channels))
	for _, c := range channels {
		name := db.Channel(c)
		full[name] = c
		if _, err := conn.Exec(ctx, "LISTEN "+name); err != nil {
			return err
		}
	}
	// Whatever happened before LISTEN took effect is picked up by this catch-up call.
	for _, c := range channels {
		fn(c, "")
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			// The connection may be mid-notification: don't give it back to the pool.
			conn.Conn().Close(context.Background()) //nolint:errcheck
			return err
		}
		fn(full[n.Channel], n.Payload)
	}
}
