package reconcile

import (
	"slices"
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Each rule case puts the pods in an input order the rule must overturn, and
// gives the pod the rule deletes last an advantage under every later rule, so
// the case fails when its rule is removed.
func TestSortPodsForDeletion(t *testing.T) {
	const (
		sec  = time.Second
		hour = time.Hour
	)
	tests := map[string]struct {
		pods    []*corev1.Pod
		related []*corev1.Pod
		zeroNow bool
		want    []string
	}{
		"1 unassigned before assigned": {
			pods: []*corev1.Pod{
				rsTestPod("assigned", rsPhase("Pending"), rsRestarts(5), rsCreated(rsAgo(10*sec))),
				rsTestPod("unassigned", rsOnNode(""), rsPhase("Pending")),
			},
			want: []string{"unassigned", "assigned"},
		},
		"2 pending before unknown before running": {
			pods: []*corev1.Pod{
				rsTestPod("running", rsRestarts(9), rsCreated(rsAgo(10*sec))),
				rsTestPod("unknown", rsPhase("Unknown"), rsRestarts(5), rsCreated(rsAgo(60*sec))),
				rsTestPod("pending", rsPhase("Pending")),
			},
			want: []string{"pending", "unknown", "running"},
		},
		"2 empty phase ranks with pending": {
			pods: []*corev1.Pod{
				rsTestPod("unknown", rsPhase("Unknown"), rsRestarts(5), rsCreated(rsAgo(10*sec))),
				rsTestPod("no-phase", rsPhase("")),
			},
			want: []string{"no-phase", "unknown"},
		},
		"3 not ready before ready": {
			pods: []*corev1.Pod{
				rsTestPod("ready", rsReady(rsAgo(60*sec)), rsRestarts(5), rsCreated(rsAgo(120*sec))),
				rsTestPod("not-ready"),
			},
			want: []string{"not-ready", "ready"},
		},
		"4 lower deletion cost first": {
			pods: []*corev1.Pod{
				rsTestPod("high-cost", rsCost("100"), rsOnNode("node-b"), rsRestarts(5), rsCreated(rsAgo(10*sec))),
				rsTestPod("low-cost", rsCost("-5"), rsOnNode("node-a")),
			},
			related: []*corev1.Pod{
				rsTestPod("sibling-1", rsOnNode("node-b")),
				rsTestPod("sibling-2", rsOnNode("node-b")),
			},
			want: []string{"low-cost", "high-cost"},
		},
		"5 more co-located pods first": {
			pods: []*corev1.Pod{
				rsTestPod("lonely", rsOnNode("node-b"), rsRestarts(5), rsCreated(rsAgo(10*sec))),
				rsTestPod("crowded", rsOnNode("node-a")),
			},
			related: []*corev1.Pod{
				rsTestPod("sibling-1", rsOnNode("node-a")),
				rsTestPod("sibling-2", rsOnNode("node-a")),
			},
			want: []string{"crowded", "lonely"},
		},
		"5 inactive related pods do not count": {
			pods: []*corev1.Pod{
				rsTestPod("b", rsOnNode("node-b"), rsRestarts(5), rsCreated(rsAgo(10*sec))),
				rsTestPod("a", rsOnNode("node-a")),
			},
			related: []*corev1.Pod{
				rsTestPod("sibling", rsOnNode("node-a")),
				rsTestPod("failed", rsOnNode("node-b"), rsPhase("Failed")),
				rsTestPod("succeeded", rsOnNode("node-b"), rsPhase("Succeeded")),
				rsTestPod("deleting", rsOnNode("node-b"), rsDeleting(rsAgo(sec))),
			},
			want: []string{"a", "b"},
		},
		"5 pods also listed as related count once": {
			pods: []*corev1.Pod{
				rsTestPod("a", rsOnNode("node-a"), rsRestarts(5), rsCreated(rsAgo(10*sec))),
				rsTestPod("b", rsOnNode("node-b")),
			},
			related: []*corev1.Pod{
				rsTestPod("a", rsOnNode("node-a")),
				rsTestPod("a", rsOnNode("node-a")),
				rsTestPod("sibling", rsOnNode("node-b")),
			},
			want: []string{"b", "a"},
		},
		"5 ranks move with their pods": {
			pods: []*corev1.Pod{
				rsTestPod("p1", rsOnNode("node-c")),
				rsTestPod("p2", rsOnNode("node-a")),
				rsTestPod("p3", rsOnNode("node-b")),
				rsTestPod("p4", rsOnNode("node-a")),
				rsTestPod("p5", rsOnNode("node-b")),
				rsTestPod("p6", rsOnNode("node-a")),
			},
			want: []string{"p2", "p4", "p6", "p3", "p5", "p1"},
		},
		"6 ready more recently first": {
			pods: []*corev1.Pod{
				rsTestPod("ready-long", rsReady(rsAgo(hour)), rsRestarts(5), rsCreated(rsAgo(2*hour))),
				rsTestPod("ready-recent", rsReady(rsAgo(10*sec)), rsCreated(rsAgo(3*hour))),
			},
			want: []string{"ready-recent", "ready-long"},
		},
		"6 ready with no transition time first": {
			pods: []*corev1.Pod{
				rsTestPod("ready-long", rsReady(rsAgo(hour)), rsRestarts(5), rsCreated(rsAgo(10*sec))),
				rsTestPod("ready-since-unknown", rsReady(time.Time{})),
			},
			want: []string{"ready-since-unknown", "ready-long"},
		},
		"6 ready in the same log2 bucket: lower uid first": {
			// 40s and 50s both have floor(log2(ns)) = 35.
			pods: []*corev1.Pod{
				rsTestPod("ready-40s", rsUID("uid-2"), rsReady(rsAgo(40*sec)), rsRestarts(5), rsCreated(rsAgo(10*sec))),
				rsTestPod("ready-50s", rsUID("uid-1"), rsReady(rsAgo(50*sec))),
			},
			want: []string{"ready-50s", "ready-40s"},
		},
		"6 without now exact ready times decide": {
			pods: []*corev1.Pod{
				rsTestPod("ready-50s", rsUID("uid-1"), rsReady(rsAgo(50*sec))),
				rsTestPod("ready-40s", rsUID("uid-2"), rsReady(rsAgo(40*sec))),
			},
			zeroNow: true,
			want:    []string{"ready-40s", "ready-50s"},
		},
		"7 more restarts first, max over containers": {
			pods: []*corev1.Pod{
				rsTestPod("fresh", rsCreated(rsAgo(10*sec))),
				rsTestPod("restarted", rsRestarts(3), rsCreated(rsAgo(2*hour))),
			},
			want: []string{"restarted", "fresh"},
		},
		"8 newer creation first": {
			pods: []*corev1.Pod{
				rsTestPod("old", rsCreated(rsAgo(hour))),
				rsTestPod("new", rsCreated(rsAgo(10*sec))),
			},
			want: []string{"new", "old"},
		},
		"8 missing creation time first": {
			pods: []*corev1.Pod{
				rsTestPod("new", rsCreated(rsAgo(10*sec))),
				rsTestPod("no-timestamp", rsCreated(time.Time{})),
			},
			want: []string{"no-timestamp", "new"},
		},
		"8 creation in the same log2 bucket: lower uid first": {
			pods: []*corev1.Pod{
				rsTestPod("created-40s", rsUID("uid-2"), rsCreated(rsAgo(40*sec))),
				rsTestPod("created-50s", rsUID("uid-1"), rsCreated(rsAgo(50*sec))),
			},
			want: []string{"created-50s", "created-40s"},
		},
		"equal pods keep their order": {
			pods: []*corev1.Pod{
				rsTestPod("first"),
				rsTestPod("second"),
				rsTestPod("third"),
			},
			want: []string{"first", "second", "third"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now := rsNow
			if tc.zeroNow {
				now = time.Time{}
			}
			pods := slices.Clone(tc.pods)
			SortPodsForDeletion(pods, tc.related, now)
			if got := rsPodNames(pods); !slices.Equal(got, tc.want) {
				t.Errorf("order = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPodDeletionCost(t *testing.T) {
	tests := map[string]struct {
		value string
		set   bool
		want  int32
	}{
		"unset":          {want: 0},
		"positive":       {value: "100", set: true, want: 100},
		"negative":       {value: "-5", set: true, want: -5},
		"zero":           {value: "0", set: true, want: 0},
		"plus sign":      {value: "+5", set: true, want: 0},
		"leading zero":   {value: "007", set: true, want: 0},
		"not a number":   {value: "cheap", set: true, want: 0},
		"over int32":     {value: "3000000000", set: true, want: 0},
		"empty":          {value: "", set: true, want: 0},
		"int32 boundary": {value: "-2147483648", set: true, want: -2147483648},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := rsTestPod("p")
			if tc.set {
				rsCost(tc.value)(p)
			}
			if got := podDeletionCost(p); got != tc.want {
				t.Errorf("podDeletionCost(%q) = %d, want %d", tc.value, got, tc.want)
			}
		})
	}
}
