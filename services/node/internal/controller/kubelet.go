package controller

import (
	"context"
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

// syncPods is the kubelet for a batch of pods. Each pod's next step is planned on the
// cache's copy (the cache wakes the kubelet once it holds a change, so the copy is at
// least that new); a pod with nothing to write costs no query. The pods that have
// something to write are read locked in one statement, planned again on the stored
// copy, and written together in one transaction (repo.PodWrites); then each gets a
// timer for its next step. The caches' handlers wake the scheduler.
func (c *Controllers) syncPods(ctx context.Context, keys []string) map[string]error {
	// The pods' nodes are read from the node cache too: a step planned before it loaded
	// would see every node gone.
	if err := c.caches.Pods.Synced(ctx); err != nil {
		return failAll(keys, err)
	}
	if err := c.caches.Nodes.Synced(ctx); err != nil {
		return failAll(keys, err)
	}
	now := c.clock.Now()
	var due []string
	for _, key := range keys {
		ns, name, _ := strings.Cut(key, "/")
		p, ok := c.caches.Pods.Get(ns, name)
		if !ok {
			continue // gone, or not in the cache yet (which then wakes it)
		}
		st := c.step(p, now)
		if st.write {
			due = append(due, key)
		} else if st.requeue > 0 {
			c.kubelet.EnqueueAfter(key, st.requeue)
		}
	}
	if len(due) == 0 {
		return nil
	}
	var requeue map[string]time.Duration
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		requeue = map[string]time.Duration{}
		locked, err := repo.Pods.GetManyForUpdate(ctx, tx, due)
		if err != nil {
			return err
		}
		var w repo.PodWrites
		for _, key := range due {
			p := locked[key]
			if p == nil {
				continue
			}
			st := c.step(p, now)
			requeue[key] = st.requeue
			switch {
			case st.delete && stoppedBeforeDelete(p, st.pod):
				w.DeleteStopped(st.pod, st.events)
			case st.delete:
				w.Delete(st.pod, st.events)
			case st.write:
				w.Update(st.pod, st.events)
			}
		}
		return w.Write(ctx, tx, now)
	})
	if err != nil {
		return failAll(due, err)
	}
	for key, d := range requeue {
		if d > 0 {
			c.kubelet.EnqueueAfter(key, d)
		}
	}
	return nil
}

func failAll(keys []string, err error) map[string]error {
	out := make(map[string]error, len(keys))
	for _, k := range keys {
		out[k] = err
	}
	return out
}

// kubeletStep is what the kubelet does to one pod now: write pod (delete: remove it),
// with events, and look again after requeue.
type kubeletStep struct {
	write, delete bool
	pod           *corev1.Pod
	events        []repo.Event
	requeue       time.Duration
}

// step plans the kubelet's next step for p (not modified): an unbound pod is the
// scheduler's, unless it is being deleted (then it just goes); a bound one takes every
// sim transition due now (coalesce) on its node as the cache has it.
func (c *Controllers) step(p *corev1.Pod, now time.Time) kubeletStep {
	if !placement.Bound(p) {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			return kubeletStep{write: true, delete: true, pod: proto.Clone(p).(*corev1.Pod)}
		}
		return kubeletStep{}
	}
	node, _ := c.caches.Nodes.Get("", p.GetSpec().GetNodeName())
	res := coalesce(p, node, now, c.cfg.Delays)
	st := kubeletStep{requeue: res.Requeue, events: res.Events}
	switch {
	case res.Delete:
		st.write, st.delete, st.pod = true, true, res.Pod
	case res.Pod != nil:
		st.write, st.pod = true, res.Pod
	}
	return st
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
