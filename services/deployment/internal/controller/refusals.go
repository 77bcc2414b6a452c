package controller

import (
	"errors"
	"sync"
	"time"

	"github.com/podwarden/podwarden/services/deployment/internal/reconcile"
	"github.com/podwarden/podwarden/shared/podview"
)

// refusalBackoff is the wait before an owner whose pod the node service refused
// asks again: 1s, doubled by each batch of refusals, at most maxRefusalBackoff
// (Kubernetes retries a failed sync through its rate-limited queue).
const (
	refusalBackoff    = time.Second
	maxRefusalBackoff = 16 * time.Second
)

// refusals remembers, per owner ("ReplicaSet/ns/name"), the last refused pod
// creation until a sync finds it resolved. It is memory only: after a restart
// the owner tries again at once, and is refused again if nothing changed.
type refusals struct {
	mu sync.Mutex
	m  map[string]*refusal
}

type refusal struct {
	err     error
	n       int
	retryAt time.Time
	// unreported are the messages no FailedCreate event has been recorded for yet.
	unreported []string
}

// note records a batch's refusals (one backoff step per owner and batch).
func (r *refusals) note(refused []podview.Refusal, now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*refusal{}
	}
	var woken []string
	stepped := map[string]bool{}
	for _, x := range refused {
		key := x.Owner.Kind + "/" + x.Owner.Key
		cur := r.m[key]
		if cur == nil {
			cur = &refusal{}
			r.m[key] = cur
		}
		cur.err = errors.New(x.Message)
		cur.unreported = append(cur.unreported, x.Message)
		if !stepped[key] {
			stepped[key] = true
			woken = append(woken, key)
			cur.n++
			cur.retryAt = now.Add(min(refusalBackoff<<min(cur.n-1, 10), maxRefusalBackoff))
		}
	}
	return woken
}

// planner returns base with owner key's refusal, if any.
func (r *refusals) planner(base reconcile.ReplicaSetPlanner, key string) reconcile.ReplicaSetPlanner {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.m[key]; cur != nil {
		base.CreateRefused, base.RetryAt, base.Refused = cur.err, cur.retryAt, append([]string(nil), cur.unreported...)
	}
	return base
}

// done records a stored plan: its events reported the first reported refusals,
// and a resolved refusal is forgotten.
func (r *refusals) done(key string, reported int, resolved bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.m[key]
	if cur == nil {
		return
	}
	if resolved {
		delete(r.m, key)
		return
	}
	cur.unreported = cur.unreported[min(reported, len(cur.unreported)):]
}
