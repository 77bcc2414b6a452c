package apply

import (
	"sync"
	"time"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// The wait before an owner whose pod the node service refused asks again: 1s,
// doubled by each batch of refusals, at most maxHold (Kubernetes' controllers
// retry a failed create through their rate-limited queue).
const (
	firstHold = time.Second
	maxHold   = 16 * time.Second
)

// holds are the owners (by uid) whose pod creations the node service refused
// (its admission: a ResourceQuota, a LimitRange): until a hold ends, their syncs
// create no pod, so an owner at its quota does not ask again at the speed of the
// bus. Memory only: after a restart an owner asks once more at once.
type holds struct {
	mu sync.Mutex
	m  map[string]*hold
}

type hold struct {
	until time.Time
	n     int
}

// HoldCreates notes a batch's refused creations (podview.Refusals): each owner
// waits, one backoff step longer per batch that refused it.
func (in *Informer) HoldCreates(refused []podview.Refusal, now time.Time) {
	h := &in.holds
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]*hold{}
	}
	stepped := map[string]bool{}
	for _, r := range refused {
		if r.OwnerUID == "" || stepped[r.OwnerUID] {
			continue
		}
		stepped[r.OwnerUID] = true
		cur := h.m[r.OwnerUID]
		if cur == nil || now.Sub(cur.until) > 2*maxHold {
			cur = &hold{} // a hold long over starts again from the first step
			h.m[r.OwnerUID] = cur
		}
		cur.n++
		cur.until = now.Add(min(firstHold<<min(cur.n-1, 10), maxHold))
	}
	for uid, cur := range h.m {
		if now.Sub(cur.until) > 2*maxHold {
			delete(h.m, uid)
		}
	}
}

// holdCreates drops from p the pod creations of owners on hold and asks for a
// sync when the first hold ends.
func (in *Informer) holdCreates(p Plan, now time.Time) Plan {
	h := &in.holds
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.m) == 0 {
		return p
	}
	kept := p.Writes[:0:0]
	for _, w := range p.Writes {
		if pod, ok := w.obj.(*corev1.Pod); ok && w.group == createPodGroup {
			if ref := podutil.GetControllerOf(pod.GetMetadata()); ref != nil {
				if cur := h.m[ref.GetUid()]; cur != nil && now.Before(cur.until) {
					if wait := cur.until.Sub(now); p.Requeue <= 0 || wait < p.Requeue {
						p.Requeue = wait
					}
					continue
				}
			}
		}
		kept = append(kept, w)
	}
	p.Writes = kept
	return p
}
