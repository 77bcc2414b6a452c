package controller

import (
	"sync"
	"time"
)

// Failed-pod back-off of the daemonset controller (failedPodsBackoff): 1s, doubling
// up to 15 minutes per DaemonSet and node; an entry idle for twice the maximum resets.
const (
	backoffInitial = time.Second
	backoffMax     = 15 * time.Minute
)

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

// failedBackoff is flowcontrol.Backoff reduced to what the controller uses. It
// lives in memory: a new leader starts without back-off, as Kubernetes' does.
type failedBackoff struct {
	mu      sync.Mutex
	entries map[string]backoffEntry
}

func newFailedBackoff() *failedBackoff { return &failedBackoff{entries: map[string]backoffEntry{}} }

// remaining is how long key is still backed off at now (IsInBackOffSinceUpdate).
func (b *failedBackoff) remaining(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return 0
	}
	if left := e.delay - now.Sub(e.lastUpdate); left > 0 {
		return left
	}
	return 0
}

// next records a failure at now and grows the delay.
func (b *failedBackoff) next(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || now.Sub(e.lastUpdate) > 2*backoffMax {
		b.entries[key] = backoffEntry{delay: backoffInitial, lastUpdate: now}
		return
	}
	b.entries[key] = backoffEntry{delay: min(2*e.delay, backoffMax), lastUpdate: now}
}

// gc drops entries idle for twice the maximum.
func (b *failedBackoff) gc(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, e := range b.entries {
		if now.Sub(e.lastUpdate) > 2*backoffMax {
			delete(b.entries, k)
		}
	}
}
