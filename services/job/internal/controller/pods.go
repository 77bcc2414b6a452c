package controller

import (
	"context"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/podview"
)

// view is this service's pod view (its bookkeeping annotations, the observed
// version and reconcile.AnnotationCounted, never reach the node service: see kinds).
// It also takes in pods without a controller (the consumer reads their events):
// a Job adopts those its selector matches, and an orphaned pod stays current.
var view = podview.View{Tombstones: "pod_tombstones", Unowned: true}

// handlePodEvents applies a batch of the node service's pod events to this service's
// pod view in one transaction; the pod cache then wakes the Jobs (watchCaches). The
// view is quiet (no notification per pod), so the feed is told here.
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
