package controller

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/shared/store"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// NodeLister lists the fleet as the node service has it, with the list's
// resourceVersion (the node service's NodeService.ListNodes).
type NodeLister interface {
	ListNodes(ctx context.Context) (nodes []*nodev1.Node, listRV int64, err error)
}

// repairNodes makes the node view agree with a full list from the node service,
// the level-triggered safety net under the node event stream: newer nodes are
// written, nodes the list no longer has (and that the view saw before the list was
// taken) are removed. It reports whether the view changed.
func (c *Controller) repairNodes(ctx context.Context) (bool, error) {
	remote, listRV, err := c.nodes.ListNodes(ctx)
	if err != nil {
		return false, err
	}
	changed := false
	err = c.db.InTx(ctx, func(tx pgx.Tx) error {
		local, err := kinds.Nodes.List(ctx, tx, store.ListOptions{})
		if err != nil {
			return err
		}
		byName := map[string]*nodev1.Node{}
		for _, n := range local {
			byName[n.Metadata.Name] = n
		}
		seen := map[string]bool{}
		for _, n := range remote {
			m := n.GetMetadata()
			seen[m.GetName()] = true
			rv, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
			cur := byName[m.GetName()]
			if cur != nil && cur.Metadata.Uid == m.GetUid() && observedVersion(cur.Metadata) >= rv {
				continue
			}
			if dead, err := isTombstoned(ctx, tx, m.GetUid()); err != nil || dead {
				if err != nil {
					return err
				}
				continue
			}
			next := proto.Clone(n).(*nodev1.Node)
			next.Metadata.ResourceVersion = ""
			setObservedVersion(next.Metadata, rv)
			if cur != nil && cur.Metadata.Uid != m.GetUid() {
				if _, err := kinds.Nodes.Delete(ctx, tx, "", cur.Metadata.Name, cur.Metadata.Uid); err != nil {
					return err
				}
				cur = nil
			}
			if cur == nil {
				_, err = kinds.Nodes.Create(ctx, tx, next)
			} else {
				_, err = kinds.Nodes.Update(ctx, tx, next)
			}
			if err != nil {
				return err
			}
			changed = true
		}
		for _, n := range local {
			if seen[n.Metadata.Name] || observedVersion(n.Metadata) > listRV {
				continue
			}
			if _, err := kinds.Nodes.Delete(ctx, tx, "", n.Metadata.Name, n.Metadata.Uid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tombstone(ctx, tx, n.Metadata.Uid); err != nil {
				return err
			}
			changed = true
		}
		return nil
	})
	return changed, err
}
