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

// handlePodEvents applies a batch of the node service's pod events to this
// service's pod view in one transaction, then wakes the Jobs owning them.
func (c *Controller) handlePodEvents(ctx context.Context, msgs []bus.Received) error {
	owners, err := view.ApplyBatch(ctx, c.db, msgs, func(subject string, err error) {
		c.log.Warn("dropping undecodable pod event", "subject", subject, "err", err)
	})
	if err != nil {
		return err
	}
	for _, o := range owners {
		if o.Kind == "Job" {
			c.jobs.Enqueue(o.Key)
		}
	}
	return nil
}
