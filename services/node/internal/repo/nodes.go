package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/store"

	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func publishNode(ctx context.Context, q store.Querier, typ eventsv1.NodeEvent_Type, n *nodev1.Node) error {
	m := n.GetMetadata()
	rv := rvOf(m)
	return store.Enqueue(ctx, q, bus.NodeEventSubject(m.GetName()), fmt.Sprintf("Node/%s/%d", m.GetUid(), rv),
		&eventsv1.NodeEvent{Type: typ, Node: n, Version: rv})
}

// RecordNodeEvents stores Kubernetes events about the node.
func RecordNodeEvents(ctx context.Context, q store.Querier, now time.Time, n *nodev1.Node, evs []Event) error {
	for _, e := range evs {
		ref := events.Ref("v1", "Node", n.GetMetadata())
		ref.Uid = n.GetMetadata().GetName() // Kubernetes' node events carry the node name as uid
		comp := e.Component
		if comp == "" {
			comp = ComponentKubelet
		}
		if err := events.Record(ctx, q, now, comp, ref, e.Type, e.Reason, e.Message); err != nil {
			return fmt.Errorf("record event %s of node %s: %w", e.Reason, n.GetMetadata().GetName(), err)
		}
	}
	return nil
}

// CreateNode stores a node and publishes ADDED.
func CreateNode(ctx context.Context, tx pgx.Tx, now time.Time, n *nodev1.Node, evs []Event) (*nodev1.Node, error) {
	created, err := Nodes.Create(ctx, tx, n)
	if err != nil {
		return nil, err
	}
	if err := publishNode(ctx, tx, eventsv1.NodeEvent_TYPE_ADDED, created); err != nil {
		return nil, err
	}
	return created, RecordNodeEvents(ctx, tx, now, created, evs)
}

// UpdateNode stores a changed node (optimistic) and publishes MODIFIED.
func UpdateNode(ctx context.Context, tx pgx.Tx, now time.Time, n *nodev1.Node, evs []Event) (*nodev1.Node, error) {
	updated, err := Nodes.Update(ctx, tx, n)
	if err != nil {
		return nil, err
	}
	if err := publishNode(ctx, tx, eventsv1.NodeEvent_TYPE_MODIFIED, updated); err != nil {
		return nil, err
	}
	return updated, RecordNodeEvents(ctx, tx, now, updated, evs)
}

// DeleteNode removes a node and every pod bound to it (the pod garbage
// collector's job), publishing DELETED for each.
func DeleteNode(ctx context.Context, tx pgx.Tx, now time.Time, name, uid string) (*nodev1.Node, error) {
	gone, err := Nodes.Delete(ctx, tx, "", name, uid)
	if err != nil {
		return nil, err
	}
	if err := publishNode(ctx, tx, eventsv1.NodeEvent_TYPE_DELETED, gone); err != nil {
		return nil, err
	}
	pods, err := PodsOnNode(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	for _, p := range pods {
		if _, err := DeletePod(ctx, tx, now, p, nil); err != nil {
			return nil, fmt.Errorf("delete pod %s of node %s: %w", Key(p.GetMetadata()), name, err)
		}
	}
	return gone, nil
}
