// Package watch serves Kubernetes-style watches from a schema's change log:
// ADDED for what exists (when no resourceVersion is given), then every change in
// resourceVersion order, woken by Postgres notifications through a Hub.
package watch

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/store"
)

// Hub wakes the watchers of a kind when a change of that kind is committed.
type Hub struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{waiters: map[string]chan struct{}{}} }

// Notify takes a "Kind/namespace/name" payload ("" wakes every kind).
func (h *Hub) Notify(payload string) {
	kind, _, _ := strings.Cut(payload, "/")
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, ch := range h.waiters {
		if payload == "" || k == kind {
			close(ch)
			delete(h.waiters, k)
		}
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

// Sender receives watch events.
type Sender[T store.Object] func(eventType string, obj T) error

func key(o store.Object) string {
	m := o.GetMetadata()
	return m.GetNamespace() + "/" + m.GetName()
}

// Serve streams events of kind matching match until ctx ends or send fails.
// fromRV "" or "0" first sends ADDED for every matching object. An object that stops
// matching is sent as DELETED, one that starts matching as ADDED, like the apiserver.
func Serve[T store.Object](ctx context.Context, db *store.DB, kind store.Kind[T], hub *Hub, fromRV string, match func(T) bool, send Sender[T]) error {
	matching := map[string]bool{}
	var rv int64
	if fromRV == "" || fromRV == "0" {
		var items []T
		err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			var err error
			if rv, err = store.CurrentRV(ctx, tx); err != nil {
				return err
			}
			items, err = kind.List(ctx, tx, store.ListOptions{})
			return err
		})
		if err != nil {
			return err
		}
		for _, o := range items {
			if match(o) {
				matching[key(o)] = true
				if err := send(store.Added, o); err != nil {
					return err
				}
			}
		}
	} else {
		v, err := strconv.ParseInt(fromRV, 10, 64)
		if err != nil {
			return err
		}
		rv = v
	}
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		wake := hub.Wait(kind.Name)
		changes, err := kind.ChangesSince(ctx, db.Pool, rv, 500)
		if err != nil {
			return err
		}
		for _, c := range changes {
			rv = c.RV
			k := key(c.Object)
			was, is := matching[k], c.Type != store.Deleted && match(c.Object)
			typ := c.Type
			switch {
			case is && !was:
				typ = store.Added
			case !is && was:
				typ = store.Deleted
			case !is && !was:
				continue
			}
			if is {
				matching[k] = true
			} else {
				delete(matching, k)
			}
			if err := send(typ, c.Object); err != nil {
				return err
			}
		}
		if len(changes) == 500 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		}
	}
}
