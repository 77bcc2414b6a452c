package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// podTimes is when the watch saw one pod (uid) appear, become Ready, get marked
// for deletion and go.
type podTimes struct {
	name, image                     string
	added, ready, deleting, deleted time.Time
}

// tracer records a pod watch (the node service's WatchPods), to tell where the
// time of an ordered step goes: the controller's reaction, or the pod's start.
type tracer struct {
	mu   sync.Mutex
	pods map[string]*podTimes // by uid
}

func startTracer(ctx context.Context, pods nodev1.PodServiceClient) (*tracer, error) {
	stream, err := pods.WatchPods(ctx, &nodev1.WatchPodsRequest{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	t := &tracer{pods: map[string]*podTimes{}}
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				return
			}
			now := time.Now()
			p := ev.GetObject()
			uid := p.GetMetadata().GetUid()
			t.mu.Lock()
			pt := t.pods[uid]
			if pt == nil {
				pt = &podTimes{name: p.GetMetadata().GetName(), added: now}
				if cs := p.GetSpec().GetContainers(); len(cs) > 0 {
					pt.image = cs[0].GetImage()
				}
				t.pods[uid] = pt
			}
			if pt.ready.IsZero() && isReady(p) {
				pt.ready = now
			}
			if pt.deleting.IsZero() && p.GetMetadata().GetDeletionTimestamp() != nil {
				pt.deleting = now
			}
			if ev.GetType() == "DELETED" {
				if pt.deleting.IsZero() {
					pt.deleting = now
				}
				pt.deleted = now
			}
			t.mu.Unlock()
		}
	}()
	return t, nil
}

// stats collects durations by step name.
type stats map[string][]time.Duration

func (s stats) add(name string, from, to time.Time) {
	if !from.IsZero() && !to.IsZero() {
		s[name] = append(s[name], to.Sub(from))
	}
}

// report adds the medians and 90th percentiles of the steps (trace_* figures) and
// prints them. rollStart is when the rolling update was requested.
func (t *tracer) report(w *workload, rollStart time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// By set and ordinal: the first pod (old image) and its replacement (new image).
	type slot struct{ old, new *podTimes }
	slots := map[string]map[int]*slot{}
	for _, p := range t.pods {
		i := strings.LastIndexByte(p.name, '-')
		if i < 0 {
			continue
		}
		ord, err := strconv.Atoi(p.name[i+1:])
		if err != nil {
			continue
		}
		set := p.name[:i]
		if slots[set] == nil {
			slots[set] = map[int]*slot{}
		}
		s := slots[set][ord]
		if s == nil {
			s = &slot{}
			slots[set][ord] = s
		}
		if p.image == oldImage {
			s.old = p
		} else {
			s.new = p
		}
	}
	st := stats{}
	n := w.cfg.replicas
	for _, ords := range slots {
		for k := 0; k < n; k++ {
			s := ords[k]
			if s == nil || s.old == nil || s.new == nil {
				continue
			}
			st.add("create_pod_start", s.old.added, s.old.ready)
			if p := ords[k-1]; k > 0 && p != nil && p.old != nil && w.policy == "OrderedReady" {
				st.add("create_ready_to_next_created", p.old.ready, s.old.added)
			}
			// The roll goes from the highest ordinal down.
			prevReady := rollStart
			if p := ords[k+1]; p != nil && p.new != nil {
				prevReady = p.new.ready
			}
			st.add("roll_prev_ready_to_delete", prevReady, s.old.deleting)
			st.add("roll_terminating_to_gone", s.old.deleting, s.old.deleted)
			st.add("roll_gone_to_recreated", s.old.deleted, s.new.added)
			st.add("roll_pod_start", s.new.added, s.new.ready)
		}
	}
	// Pods becoming Ready per second from the first one on: stalls show as gaps.
	var first time.Time
	for _, p := range t.pods {
		if !p.ready.IsZero() && (first.IsZero() || p.ready.Before(first)) {
			first = p.ready
		}
	}
	var perSecond []int
	for _, p := range t.pods {
		if p.ready.IsZero() {
			continue
		}
		i := int(p.ready.Sub(first) / time.Second)
		for len(perSecond) <= i {
			perSecond = append(perSecond, 0)
		}
		perSecond[i]++
	}
	fmt.Printf("# trace %s: pods becoming Ready per second from %s: %v\n", w.policy, first.Format("15:04:05"), perSecond)
	names := make([]string, 0, len(st))
	for k := range st {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d := st[k]
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		p50, p90 := d[len(d)/2], d[len(d)*9/10]
		fmt.Printf("# trace %s: %s p50 %.1f ms, p90 %.1f ms over %d steps\n", w.policy, k, ms(p50), ms(p90), len(d))
		w.out.Add("trace_"+k+"_p50_ms", ms(p50), "ms")
		w.out.Add("trace_"+k+"_p90_ms", ms(p90), "ms")
	}
}
