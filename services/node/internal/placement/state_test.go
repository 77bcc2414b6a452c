package placement

import (
	"fmt"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// versioned gives p a resourceVersion (changes reach State in resourceVersion order).
func versioned(p *corev1.Pod, rv int) *corev1.Pod {
	p = proto.Clone(p).(*corev1.Pod)
	p.Metadata.ResourceVersion = strconv.Itoa(rv)
	return p
}

// boundAs is the binding b written, as the cache hands it back.
func boundAs(b Binding, rv int) *corev1.Pod {
	p := versioned(b.Pod, rv)
	p.Spec.NodeName = b.Node
	p.Status.PodIp = b.PodIP
	p.Status.Conditions = []*corev1.Condition{{Type: podutil.PodScheduled, Status: podutil.ConditionTrue}}
	return p
}

func bindings(plan Plan) string {
	var out []string
	for _, b := range plan.Bindings {
		out = append(out, b.Pod.Metadata.Name+"@"+b.Node+"/"+b.PodIP)
	}
	var un []string
	for _, u := range plan.Unschedulable {
		un = append(un, u.Pod.Metadata.Name)
	}
	return fmt.Sprintf("%v unschedulable %v", out, un)
}

// TestStateFollowsChanges: the state kept by changes decides as a pass from scratch
// would, at every step of a pod's life: placements are assumed until the binding shows,
// a placement not written is forgotten, deletions and finished pods give back their
// room and IP, a change seen twice (a reset's list and the feed) counts once, and the
// state never counts a pod it has been told is gone.
func TestStateFollowsChanges(t *testing.T) {
	n1 := node("n1", "10.244.1.0/29", "172.18.0.2") // 5 pod IPs: .2 to .6
	s := NewState()
	s.Node(n1, false)
	a, b := versioned(pod("a", podOpts{age: 3, cpu: "600m"}), 1), versioned(pod("b", podOpts{age: 2, cpu: "600m"}), 2)
	s.Pod(a, false)
	s.Pod(b, false)

	// a fits, b does not (1 cpu); a is assumed, so a second pass places nothing new.
	plan := s.Schedule(now, 0)
	if got := bindings(plan); got != "[a@n1/10.244.1.2] unschedulable [b]" {
		t.Fatalf("first pass: %s", got)
	}
	if got := bindings(s.Schedule(now, 0)); got != "[] unschedulable [b]" {
		t.Fatalf("second pass, a assumed: %s", got)
	}
	// An unrelated change of a (not yet bound) keeps the placement.
	s.Pod(versioned(a, 3), false)
	if got := bindings(s.Schedule(now, 0)); got != "[] unschedulable [b]" {
		t.Fatalf("a changed before its binding showed: %s", got)
	}
	// The binding shows: counted once (b still does not fit).
	aBound := boundAs(plan.Bindings[0], 4)
	s.Pod(aBound, false)
	s.Pod(aBound, false) // seen twice
	if got := bindings(s.Schedule(now, 0)); got != "[] unschedulable [b]" {
		t.Fatalf("a bound: %s", got)
	}
	// a finishes: its cpu and IP are free, b takes both.
	done := versioned(aBound, 5)
	done.Status.Phase = podutil.PodSucceeded
	s.Pod(done, false)
	plan = s.Schedule(now, 0)
	if got := bindings(plan); got != "[b@n1/10.244.1.3] unschedulable []" {
		t.Fatalf("a finished: %s", got)
	}
	// b's binding was not written (b changed meanwhile): forgotten, b is pending again
	// and gets placed again.
	s.Forget(plan.Bindings[0].Pod)
	if got := bindings(s.Schedule(now, 0)); got != "[b@n1/10.244.1.4] unschedulable []" {
		t.Fatalf("b forgotten: %s", got)
	}
	// b is deleted before its binding shows: nothing is counted for it.
	s.Pod(versioned(b, 6), true)
	c := versioned(pod("c", podOpts{age: 1, cpu: "1"}), 7)
	s.Pod(c, false)
	if got := bindings(s.Schedule(now, 0)); got != "[c@n1/10.244.1.5] unschedulable []" {
		t.Fatalf("b deleted: %s", got)
	}
	// A stale version (older resourceVersion) of c changes nothing.
	s.Pod(versioned(pod("c", podOpts{age: 1, cpu: "1"}), 6), false)
	if got := bindings(s.Schedule(now, 0)); got != "[] unschedulable []" {
		t.Fatalf("stale c: %s", got)
	}

	// Reset from lists: the assumed c is dropped (a new term); the lists decide.
	s.Reset([]*corev1.Pod{versioned(pod("d", podOpts{age: 1, cpu: "1", bound: true, nodeName: "n1"}), 9)}, nil)
	s.Pod(versioned(pod("e", podOpts{cpu: "100m"}), 10), false)
	if got := bindings(s.Schedule(now, 0)); got != "[] unschedulable [e]" {
		t.Fatalf("after a reset without nodes: %s", got)
	}
	s.Node(n1, false) // the node arrives: d's usage is already there
	if got := bindings(s.Schedule(now, 0)); got != "[] unschedulable [e]" {
		t.Fatalf("d fills n1: %s", got)
	}
}

// TestStateMatchesDecide: the same world built change by change and decided from
// scratch gives the same plan.
func TestStateMatchesDecide(t *testing.T) {
	n1, n2 := node("n1", "10.244.1.0/24", "172.18.0.2"), node("n2", "10.244.2.0/24", "172.18.0.3")
	pods := []*corev1.Pod{
		pod("bound", podOpts{cpu: "500m", bound: true, nodeName: "n1", age: 9}),
		pod("p1", podOpts{cpu: "400m", age: 5}), pod("p2", podOpts{cpu: "400m", age: 4}),
		pod("p3", podOpts{cpu: "400m", age: 3}), pod("p4", podOpts{cpu: "400m", age: 2}),
		pod("p5", podOpts{cpu: "400m", age: 1}), pod("gone", podOpts{deleting: true}),
	}
	s := NewState()
	for i, p := range pods {
		s.Pod(versioned(p, i+1), false)
		if i == 2 {
			s.Node(n2, false)
		}
	}
	s.Node(n1, false)
	want := bindings(Decide(Input{Pods: pods, Nodes: []*nodev1.Node{n1, n2}, Now: now}))
	if got := bindings(s.Schedule(now, 0)); got != want {
		t.Fatalf("incremental %s\nfrom scratch %s", got, want)
	}
}
