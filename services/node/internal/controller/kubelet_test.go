package controller

import (
	"testing"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func readyCondition(p *corev1.Pod) string {
	return podutil.GetPodReadyCondition(p.GetStatus()).GetStatus()
}

// TestCoalesce: transitions due at the same instant become one write; a future one
// becomes the requeue time.
func TestCoalesce(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	node := &nodev1.Node{Metadata: &corev1.ObjectMeta{Name: "node-1"}, Status: &nodev1.NodeStatus{
		Conditions: []*corev1.Condition{{Type: "Ready", Status: "True"}}}}
	bound := func() *corev1.Pod {
		return &corev1.Pod{
			Metadata: &corev1.ObjectMeta{Name: "p", Namespace: "default", Uid: "u"},
			Spec:     &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "c", Image: "nginx"}}},
			Status:   &corev1.PodStatus{Phase: "Pending", Conditions: []*corev1.Condition{{Type: "PodScheduled", Status: "True"}}},
		}
	}
	cases := map[string]struct {
		delays      sim.Delays
		wantPhase   string
		wantReady   string
		wantRequeue time.Duration
	}{
		"zero delays: Running and Ready in one step": {delays: sim.Delays{}, wantPhase: "Running", wantReady: "True"},
		"start delay: one step, then wait for it":    {delays: sim.Delays{Start: 500 * time.Millisecond}, wantPhase: "Pending", wantRequeue: 500 * time.Millisecond},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := coalesce(bound(), node, now, tc.delays)
			if res.Pod == nil {
				t.Fatal("no change")
			}
			if res.Pod.Status.GetPhase() != tc.wantPhase || (tc.wantReady != "" && readyCondition(res.Pod) != tc.wantReady) {
				t.Fatalf("phase %s ready %q, want %s %q", res.Pod.Status.GetPhase(), readyCondition(res.Pod), tc.wantPhase, tc.wantReady)
			}
			if res.Requeue != tc.wantRequeue {
				t.Fatalf("requeue %v, want %v", res.Requeue, tc.wantRequeue)
			}
			if tc.wantReady == "True" && len(res.Events) < 2 {
				t.Fatalf("the events of every step are kept: %v", res.Events)
			}
			// Coalescing ends in the same state as stepping one at a time.
			p, steps := bound(), 0
			for ; steps < maxSteps; steps++ {
				r := sim.Next(p, node, now, tc.delays)
				if r.Pod == nil {
					break
				}
				p = r.Pod
			}
			if p.Status.GetPhase() != res.Pod.Status.GetPhase() || readyCondition(p) != readyCondition(res.Pod) {
				t.Fatalf("one at a time ends %s/%s, coalesced %s/%s", p.Status.GetPhase(), readyCondition(p), res.Pod.Status.GetPhase(), readyCondition(res.Pod))
			}
		})
	}
}
