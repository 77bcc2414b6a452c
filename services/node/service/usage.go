package service

import (
	"context"
	"sync"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/metrics"
	"github.com/podwarden/podwarden/services/node/internal/sandbox"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// usageSampler measures the sandboxes' CPU and memory as metrics-server's
// kubelet summary does: CPU is the rate of the cgroup's CPU time over the last
// metrics.Window, memory the cgroup's current usage.
type usageSampler struct {
	n  *sandbox.Network
	mu sync.Mutex
	// samples of each pod's CPU time, oldest first, within the window.
	samples map[string][]cpuSample
}

type cpuSample struct {
	at    time.Time
	nanos uint64
}

// run samples every pod's sandbox every interval until ctx ends.
func (u *usageSampler) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		now := time.Now()
		live := map[string]bool{}
		for _, uid := range u.n.UIDs() {
			live[uid] = true
			if sb := u.n.Get(uid); sb != nil {
				if cpu, _, ok := sb.Usage(); ok {
					u.add(uid, cpuSample{at: now, nanos: cpu})
				}
			}
		}
		u.mu.Lock()
		for uid := range u.samples {
			if !live[uid] {
				delete(u.samples, uid)
			}
		}
		u.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (u *usageSampler) add(uid string, s cpuSample) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.samples[uid] = trimSamples(append(u.samples[uid], s), s.at.Add(-metrics.Window))
}

// trimSamples drops the samples older than since, keeping the newest of them
// (the rate's start).
func trimSamples(ss []cpuSample, since time.Time) []cpuSample {
	i := 0
	for i+1 < len(ss) && !ss[i+1].at.After(since) {
		i++
	}
	return ss[i:]
}

// cpuRate is the CPU usage in millicores between the first and last samples
// (false with fewer than two, a second apart).
func cpuRate(ss []cpuSample) (int64, bool) {
	if len(ss) < 2 {
		return 0, false
	}
	first, last := ss[0], ss[len(ss)-1]
	dt := last.at.Sub(first.at)
	if dt < time.Second || last.nanos < first.nanos {
		return 0, false
	}
	return int64(float64(last.nanos-first.nanos) / float64(dt.Nanoseconds()) * 1000), true
}

// measured is metrics.Server's Measured: a pod with a sandbox whose processes
// are in a cgroup reports their usage (milli-units).
func (u *usageSampler) measured(p *corev1.Pod) (cpu, memory int64, ok bool) {
	uid := p.GetMetadata().GetUid()
	sb := u.n.Get(uid)
	if sb == nil {
		return 0, 0, false
	}
	_, mem, ok := sb.Usage()
	if !ok {
		return 0, 0, false
	}
	u.mu.Lock()
	rate, _ := cpuRate(u.samples[uid])
	u.mu.Unlock()
	return rate, int64(mem) * 1000, true
}
