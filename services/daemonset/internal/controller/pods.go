package controller

import (
	"context"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/podview"
)

// view is this service's pod view; its tombstone table also holds the node view's.
var view = podview.Default

// handlePodEvents applies a batch of pod events to the pod view in one
// transaction, then wakes the DaemonSets that own them.
func (c *Controller) handlePodEvents(ctx context.Context, msgs []bus.Received) error {
	owners, err := view.ApplyBatch(ctx, c.db, msgs, func(subject string, err error) {
		c.log.Warn("dropping undecodable pod event", "subject", subject, "err", err)
	})
	if err != nil {
		return err
	}
	for _, o := range owners {
		if o.Kind == "DaemonSet" {
			c.daemonSets.Enqueue(o.Key)
		}
	}
	return nil
}
