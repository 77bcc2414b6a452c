package controller

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/node/internal/placement"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// listPods lists the keys of every pod the kubelet (or the scheduler) still has
// work for: all but terminal pods not being deleted. It reads the pod cache (a pod
// the cache has not seen yet is woken by its own notification).
func (c *Controllers) listPods(ctx context.Context) ([]string, error) {
	if err := c.caches.Pods.Synced(ctx); err != nil {
		return nil, err
	}
	var keys []string
	for _, p := range c.caches.Pods.Select(store.ListOptions{}) {
		if podutil.IsPodTerminal(p) && p.GetMetadata().GetDeletionTimestamp() == nil {
			continue
		}
		keys = append(keys, repo.Key(p.GetMetadata()))
	}
	return keys, nil
}

// syncPod is the kubelet: one sim step of the stored pod, written back with its
// PodEvent and events in one transaction, and a timer for the next step.
func (c *Controllers) syncPod(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	var requeue time.Duration
	var needsScheduling, freed bool
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		p, err := repo.Pods.GetForUpdate(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := c.clock.Now()
		if !placement.Bound(p) {
			if p.GetMetadata().GetDeletionTimestamp() != nil {
				freed = true
				_, err := repo.DeletePod(ctx, tx, now, p, nil)
				return err
			}
			needsScheduling = !podutil.IsPodTerminal(p)
			return nil
		}
		var node *nodev1.Node
		if n, err := repo.Nodes.Get(ctx, tx, "", p.GetSpec().GetNodeName()); err == nil {
			node = n
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		res := coalesce(p, node, now, c.cfg.Delays)
		requeue = res.Requeue
		switch {
		case res.Delete:
			freed = true
			if stoppedBeforeDelete(p, res.Pod) {
				// The kubelet's last status write: the containers stopped (0/1,
				// Terminating for watchers), then the pod goes.
				if res.Pod, err = repo.Pods.Update(ctx, tx, res.Pod); err != nil {
					return err
				}
			}
			_, err = repo.DeletePod(ctx, tx, now, res.Pod, res.Events)
		case res.Pod != nil:
			freed = podutil.IsPodTerminal(res.Pod)
			_, err = repo.UpdatePod(ctx, tx, now, res.Pod, repo.OwnerKind(res.Pod), res.Events)
		}
		return err
	})
	if err != nil {
		return err
	}
	if needsScheduling || freed && c.unschedulable.Load() > 0 {
		c.scheduler.Enqueue(scheduleKey)
	}
	if requeue > 0 {
		c.kubelet.EnqueueAfter(key, requeue)
	}
	return nil
}

// stoppedBeforeDelete reports whether a deletion step also stopped containers of
// the stored pod (final's container statuses differ), whose status the kubelet
// writes before it deletes the pod.
func stoppedBeforeDelete(stored, final *corev1.Pod) bool {
	return final != nil && stored.GetMetadata().GetDeletionTimestamp() != nil &&
		!proto.Equal(&corev1.PodStatus{ContainerStatuses: stored.GetStatus().GetContainerStatuses()},
			&corev1.PodStatus{ContainerStatuses: final.GetStatus().GetContainerStatuses()})
}

// maxSteps bounds the transitions applied in one write.
const maxSteps = 8

// coalesce applies every transition due at this same instant and returns them as one
// step, as the kubelet's status manager batches status updates: with zero simulated
// delays a pod goes from scheduled to Running and Ready in one write (one pod event)
// instead of three; with delays nothing changes, and the step's Requeue is the time
// of the next transition instead of a wake-up by the write's own notification.
func coalesce(p *corev1.Pod, node *nodev1.Node, now time.Time, d sim.Delays) sim.Result {
	res := sim.Next(p, node, now, d)
	for i := 0; i < maxSteps && res.Pod != nil && !res.Delete; i++ {
		next := sim.Next(res.Pod, node, now, d)
		if next.Pod == nil {
			res.Requeue = next.Requeue
			break
		}
		next.Events = append(res.Events, next.Events...)
		res = next
	}
	return res
}
