package controller

import (
	"context"
	"strings"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/podview"
)

// view is this service's pod view. It also takes in bare pods (the consumer reads
// their events): candidates for adoption by a ReplicaSet or ReplicationController.
var view = podview.View{Tombstones: "pod_tombstones", Unowned: true}

// handlePodEvents applies a batch of the node service's pod events to the pod view
// in one transaction; the pod cache then wakes the owners (watchCaches). The view is
// quiet (no notification per pod), so the feed is told here.
func (c *Controller) handlePodEvents(ctx context.Context, msgs []bus.Received) error {
	_, refused, err := view.ApplyBatch(ctx, c.db, msgs, func(subject string, err error) {
		c.log.Warn("dropping undecodable pod event", "subject", subject, "err", err)
	})
	if err != nil {
		return err
	}
	c.in.Hub.Kick()
	// A refused creation (the node service's admission: a quota) left the view with
	// the event; its owner shows it and waits before it asks again.
	for _, key := range c.refused.note(refused, c.clock.Now()) {
		kind, nsName, _ := strings.Cut(key, "/")
		switch kind {
		case "ReplicaSet":
			c.replicaSets.Enqueue(nsName)
		case "ReplicationController":
			c.rcs.Enqueue(nsName)
		}
	}
	return nil
}
