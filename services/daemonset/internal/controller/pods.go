package controller

import (
	"context"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/podview"
)

// view is this service's pod view; its tombstone table also holds the node view's.
var view = podview.Default

// handlePodEvents applies a batch of pod events to the pod view in one transaction;
// the pod cache then wakes the owners (watchCaches). The view is quiet (no
// notification per pod), so the feed is told here.
func (c *Controller) handlePodEvents(ctx context.Context, msgs []bus.Received) error {
	_, refused, err := view.ApplyBatch(ctx, c.db, msgs, func(subject string, err error) {
		c.log.Warn("dropping undecodable pod event", "subject", subject, "err", err)
	})
	if err == nil {
		c.in.Hub.Kick()
		// Owners whose pods the node service refused (a quota) wait before asking again.
		c.in.HoldCreates(refused, c.clock.Now())
	}
	return err
}
