package controller

import (
	"context"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/podview"
)

// view is this service's pod view. It also takes in bare pods (the consumer reads
// their events): candidates for adoption by a ReplicaSet or ReplicationController.
var view = podview.View{Tombstones: "pod_tombstones", Unowned: true}

// handlePodEvents applies a batch of the node service's pod events to the pod view
// in one transaction, then wakes the owners.
func (c *Controller) handlePodEvents(ctx context.Context, msgs []bus.Received) error {
	owners, err := view.ApplyBatch(ctx, c.db, msgs, func(subject string, err error) {
		c.log.Warn("dropping undecodable pod event", "subject", subject, "err", err)
	})
	if err != nil {
		return err
	}
	for _, o := range owners {
		switch o.Kind {
		case "ReplicaSet":
			c.replicaSets.Enqueue(o.Key)
		case "ReplicationController":
			c.rcs.Enqueue(o.Key)
		}
	}
	return nil
}
