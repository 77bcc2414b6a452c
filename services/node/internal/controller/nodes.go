package controller

import (
	"context"

	"github.com/podwarden/podwarden/services/node/internal/repo"
)

// syncNode re-examines the pods of a changed node (readiness, NoExecute
// taints, a deleted node) and lets the scheduler look at pending pods again.
func (c *Controllers) syncNode(ctx context.Context, name string) error {
	pods, err := repo.PodsOnNode(ctx, c.db.Pool, name)
	if err != nil {
		return err
	}
	for _, p := range pods {
		c.kubelet.Enqueue(repo.Key(p.GetMetadata()))
	}
	c.scheduler.Enqueue(scheduleKey)
	return nil
}
