package store

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// OutboxChannel is the NOTIFY channel (suffix) that wakes the outbox relay.
const OutboxChannel = "outbox"

// Enqueue adds a message to the transactional outbox: written in the same transaction
// as the domain change, published to JetStream by the relay after commit, with msgID
// as the Nats-Msg-Id so a republish after a crash is deduplicated.
func Enqueue(ctx context.Context, q Querier, subject, msgID string, msg proto.Message) error {
	data, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode outbox message for %s: %w", subject, err)
	}
	// One round trip: the row and the relay's wake-up (delivered at commit).
	_, err = q.Exec(ctx, `WITH i AS (INSERT INTO outbox (subject, msg_id, data) VALUES ($1,$2,$3) RETURNING id)
		SELECT pg_notify(current_schema() || '_`+OutboxChannel+`', '') FROM i`, subject, msgID, data)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", subject, err)
	}
	return nil
}

// OutboxMessage is one pending message.
type OutboxMessage struct {
	ID      int64
	Subject string
	MsgID   string
	Data    []byte
}

// PendingOutbox reads up to limit pending messages, oldest first.
func PendingOutbox(ctx context.Context, q Querier, limit int) ([]OutboxMessage, error) {
	rows, err := q.Query(ctx, "SELECT id, subject, msg_id, data FROM outbox ORDER BY id LIMIT $1", limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxMessage
	for rows.Next() {
		var m OutboxMessage
		if err := rows.Scan(&m.ID, &m.Subject, &m.MsgID, &m.Data); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteOutbox removes published messages.
func DeleteOutbox(ctx context.Context, q Querier, ids []int64) error {
	_, err := q.Exec(ctx, "DELETE FROM outbox WHERE id = ANY($1)", ids)
	if err != nil {
		return fmt.Errorf("delete outbox rows: %w", err)
	}
	return nil
}

// OutboxLen is the number of messages waiting in the outbox.
func OutboxLen(ctx context.Context, q Querier) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&n); err != nil {
		return 0, fmt.Errorf("count outbox: %w", err)
	}
	return n, nil
}
