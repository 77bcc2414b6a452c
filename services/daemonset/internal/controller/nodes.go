package controller

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// handleNodeEvents applies a batch of node events to the node view in one
// transaction; the view is quiet (no notification per node), so the feed is told
// when it changed.
func (c *Controller) handleNodeEvents(ctx context.Context, msgs []bus.Received) error {
	changed := false
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		for _, m := range msgs {
			var ev eventsv1.NodeEvent
			if err := proto.Unmarshal(m.Data, &ev); err != nil {
				c.log.Warn("dropping undecodable node event", "subject", m.Subject, "err", err)
				continue
			}
			if ev.GetNode().GetMetadata().GetName() == "" {
				continue
			}
			ok, err := applyNodeEvent(ctx, tx, &ev)
			if err != nil {
				return err
			}
			changed = changed || ok
		}
		return nil
	})
	if err != nil {
		return err
	}
	if changed {
		c.in.Hub.Kick() // the node cache wakes the DaemonSets it concerns (watchCaches)
	}
	return nil
}

// applyNodeEvent merges one node event into the view (newer versions only; a
// deleted node's uid is tombstoned). It reports whether the view changed.
func applyNodeEvent(ctx context.Context, tx pgx.Tx, ev *eventsv1.NodeEvent) (bool, error) {
	n := ev.GetNode()
	m := n.GetMetadata()
	if dead, err := isTombstoned(ctx, tx, m.GetUid()); err != nil || dead {
		return false, err
	}
	cur, err := kinds.Nodes.GetForUpdate(ctx, tx, "", m.GetName())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	found := err == nil
	if found && cur.Metadata.Uid == m.GetUid() && observedVersion(cur.Metadata) >= ev.GetVersion() {
		return false, nil
	}
	if ev.GetType() == eventsv1.NodeEvent_TYPE_DELETED {
		if found && cur.Metadata.Uid == m.GetUid() {
			if _, err := kinds.Nodes.Delete(ctx, tx, "", m.GetName(), m.GetUid()); err != nil && !errors.Is(err, store.ErrNotFound) {
				return false, err
			}
		}
		return found, tombstone(ctx, tx, m.GetUid())
	}
	next := proto.Clone(n).(*nodev1.Node)
	next.Metadata.Namespace = ""
	next.Metadata.ResourceVersion = ""
	setObservedVersion(next.Metadata, ev.GetVersion())
	switch {
	case !found:
		_, err = kinds.Nodes.Create(ctx, tx, next)
	case cur.Metadata.Uid != m.GetUid():
		// A node re-registered under the same name: the old one is gone.
		if _, err := kinds.Nodes.Delete(ctx, tx, "", m.GetName(), cur.Metadata.Uid); err != nil {
			return false, err
		}
		_, err = kinds.Nodes.Create(ctx, tx, next)
	default:
		_, err = kinds.Nodes.Update(ctx, tx, next)
	}
	return err == nil, err
}

// observedVersion is the version of the last event applied to a node of the view.
// The node view keeps its bookkeeping as the pod view does: that version in the
// podview.ObservedVersionKey annotation, and deleted nodes' uids in the pod view's
// tombstone table (trimmed by view.Repair).
func observedVersion(m *corev1.ObjectMeta) int64 {
	v, _ := strconv.ParseInt(m.GetAnnotations()[podview.ObservedVersionKey], 10, 64)
	return v
}

func setObservedVersion(m *corev1.ObjectMeta, v int64) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[podview.ObservedVersionKey] = strconv.FormatInt(v, 10)
}

func tombstone(ctx context.Context, tx pgx.Tx, uid string) error {
	_, err := tx.Exec(ctx, "INSERT INTO "+view.Tombstones+" (uid) VALUES ($1) ON CONFLICT DO NOTHING", uid)
	return err
}

func isTombstoned(ctx context.Context, tx pgx.Tx, uid string) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM "+view.Tombstones+" WHERE uid=$1", uid).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
