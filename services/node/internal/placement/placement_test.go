package placement

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/scheduler"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

var now = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

const insufficientCPU = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."

func node(name, cidr, hostIP string) *nodev1.Node {
	return &nodev1.Node{
		Metadata: &corev1.ObjectMeta{Name: name},
		Spec:     &nodev1.NodeSpec{PodCidr: cidr},
		Status: &nodev1.NodeStatus{
			Allocatable: map[string]*structpb.Value{
				"cpu": structpb.NewStringValue("1"), "memory": structpb.NewStringValue("4Gi"), "pods": structpb.NewNumberValue(110),
			},
			Conditions: []*corev1.Condition{{Type: "Ready", Status: "True"}},
			Addresses:  []*nodev1.NodeAddress{{Type: "InternalIP", Address: hostIP}},
		},
	}
}

type podOpts struct {
	age         time.Duration // created now-age
	cpu         string
	nodeName    string
	bound       bool // PodScheduled=True (with nodeName)
	hostNetwork bool
	deleting    bool
	phase       string
}

func pod(name string, o podOpts) *corev1.Pod {
	req := map[string]*structpb.Value{}
	if o.cpu != "" {
		req["cpu"] = structpb.NewStringValue(o.cpu)
	}
	p := &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, CreationTimestamp: timestamppb.New(now.Add(-o.age))},
		Spec: &corev1.PodSpec{NodeName: o.nodeName, HostNetwork: o.hostNetwork,
			Containers: []*corev1.Container{{Name: "c", Image: "nginx", Resources: &corev1.ResourceRequirements{Requests: req}}}},
		Status: &corev1.PodStatus{Phase: podutil.PodPending},
	}
	if o.phase != "" {
		p.Status.Phase = o.phase
	}
	if o.bound {
		p.Status.Conditions = []*corev1.Condition{{Type: podutil.PodScheduled, Status: podutil.ConditionTrue}}
	}
	if o.deleting {
		p.Metadata.DeletionTimestamp = timestamppb.New(now)
	}
	return p
}

func TestDecide(t *testing.T) {
	n1 := node("n1", "10.244.1.0/24", "172.18.0.2")
	tests := map[string]struct {
		pods    []*corev1.Pod
		nodes   []*nodev1.Node
		used    map[string]map[string]bool
		lastIP  map[string]string
		delay   time.Duration
		want    []string // "pod node podIP hostIP"
		unsched map[string]string
		wantIP  map[string]string // LastIP after the pass
		requeue time.Duration
	}{
		"one pod gets the first free IP": {
			pods: []*corev1.Pod{pod("a", podOpts{age: time.Second})}, nodes: []*nodev1.Node{n1},
			want: []string{"a n1 10.244.1.2 172.18.0.2"}, wantIP: map[string]string{"n1": "10.244.1.2"},
		},
		"oldest first; the next pod sees the first one's resources": {
			pods:  []*corev1.Pod{pod("young", podOpts{age: time.Second, cpu: "600m"}), pod("old", podOpts{age: time.Minute, cpu: "600m"})},
			nodes: []*nodev1.Node{n1},
			want:  []string{"old n1 10.244.1.2 172.18.0.2"}, unsched: map[string]string{"young": insufficientCPU},
			wantIP: map[string]string{"n1": "10.244.1.2"},
		},
		"same age: by name": {
			pods:  []*corev1.Pod{pod("b", podOpts{}), pod("a", podOpts{})},
			nodes: []*nodev1.Node{n1},
			want:  []string{"a n1 10.244.1.2 172.18.0.2", "b n1 10.244.1.3 172.18.0.2"}, wantIP: map[string]string{"n1": "10.244.1.3"},
		},
		"used IPs are skipped, round-robin after the last one": {
			pods:   []*corev1.Pod{pod("a", podOpts{age: 2 * time.Second}), pod("b", podOpts{age: time.Second})},
			nodes:  []*nodev1.Node{n1},
			used:   map[string]map[string]bool{"n1": {"10.244.1.2": true, "10.244.1.4": true}},
			lastIP: map[string]string{"n1": "10.244.1.2"},
			want:   []string{"a n1 10.244.1.3 172.18.0.2", "b n1 10.244.1.5 172.18.0.2"}, wantIP: map[string]string{"n1": "10.244.1.5"},
		},
		"hostNetwork takes the host's IP and no pod IP": {
			pods: []*corev1.Pod{pod("a", podOpts{hostNetwork: true})}, nodes: []*nodev1.Node{n1},
			want: []string{"a n1 172.18.0.2 172.18.0.2"}, wantIP: map[string]string{},
		},
		"no free IP: unschedulable, and counts for nothing on the node": {
			pods:  []*corev1.Pod{pod("a", podOpts{age: 2 * time.Second, cpu: "600m"}), pod("b", podOpts{age: time.Second, cpu: "600m"}), pod("c", podOpts{cpu: "300m"})},
			nodes: []*nodev1.Node{node("n1", "10.0.0.0/30", "172.18.0.2")},
			want:  []string{"a n1 10.0.0.2 172.18.0.2"},
			unsched: map[string]string{
				"b": insufficientCPU,
				"c": "failed to allocate a pod IP on node n1: 10.0.0.0/30: no IP addresses available in range",
			},
			wantIP: map[string]string{"n1": "10.0.0.2"},
		},
		"preset nodeName of a missing node waits without a failure": {
			pods: []*corev1.Pod{pod("a", podOpts{nodeName: "gone"})}, nodes: []*nodev1.Node{n1}, wantIP: map[string]string{},
		},
		"preset nodeName is bound with an IP": {
			pods: []*corev1.Pod{pod("a", podOpts{nodeName: "n1"})}, nodes: []*nodev1.Node{n1},
			want: []string{"a n1 10.244.1.2 172.18.0.2"}, wantIP: map[string]string{"n1": "10.244.1.2"},
		},
		"bound pods count, deleting and finished ones are not placed": {
			pods: []*corev1.Pod{
				pod("bound", podOpts{nodeName: "n1", bound: true, cpu: "600m", age: time.Hour}),
				pod("deleting", podOpts{deleting: true}),
				pod("done", podOpts{phase: podutil.PodSucceeded}),
				pod("a", podOpts{cpu: "600m"}),
			},
			nodes: []*nodev1.Node{n1}, unsched: map[string]string{"a": insufficientCPU}, wantIP: map[string]string{},
		},
		"schedule delay: a young pod waits, the pass asks to come back": {
			pods:  []*corev1.Pod{pod("young", podOpts{age: 2 * time.Second}), pod("younger", podOpts{age: time.Second}), pod("old", podOpts{age: time.Minute})},
			nodes: []*nodev1.Node{n1}, delay: 5 * time.Second,
			want: []string{"old n1 10.244.1.2 172.18.0.2"}, wantIP: map[string]string{"n1": "10.244.1.2"}, requeue: 3 * time.Second,
		},
		"no nodes": {
			pods: []*corev1.Pod{pod("a", podOpts{})}, unsched: map[string]string{"a": scheduler.ErrNoNodesAvailable}, wantIP: map[string]string{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			usedBefore := map[string]map[string]bool{}
			for k, v := range tc.used {
				usedBefore[k] = maps.Clone(v)
			}
			lastBefore := maps.Clone(tc.lastIP)

			plan := Decide(Input{Pods: tc.pods, Nodes: tc.nodes, UsedIPs: tc.used, LastIP: tc.lastIP, Now: now, Delay: tc.delay})

			var got []string
			for _, b := range plan.Bindings {
				got = append(got, b.Pod.GetMetadata().GetName()+" "+b.Node+" "+b.PodIP+" "+b.HostIP)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("bindings %q, want %q", got, tc.want)
			}
			gotUnsched := map[string]string{}
			for _, u := range plan.Unschedulable {
				gotUnsched[u.Pod.GetMetadata().GetName()] = u.Reason
			}
			if !maps.Equal(gotUnsched, tc.unsched) {
				t.Errorf("unschedulable %q, want %q", gotUnsched, tc.unsched)
			}
			if !maps.Equal(plan.LastIP, tc.wantIP) {
				t.Errorf("LastIP %v, want %v", plan.LastIP, tc.wantIP)
			}
			if plan.Requeue != tc.requeue {
				t.Errorf("requeue %v, want %v", plan.Requeue, tc.requeue)
			}
			// Decide is pure: its inputs are as they were.
			if !maps.Equal(tc.lastIP, lastBefore) {
				t.Errorf("LastIP input changed to %v", tc.lastIP)
			}
			for k, v := range usedBefore {
				if !maps.Equal(tc.used[k], v) {
					t.Errorf("UsedIPs[%s] input changed to %v", k, tc.used[k])
				}
			}
		})
	}
}

func TestBound(t *testing.T) {
	tests := map[string]struct {
		pod  *corev1.Pod
		want bool
	}{
		"pending":                        {pod: pod("a", podOpts{})},
		"nodeName preset, not yet bound": {pod: pod("a", podOpts{nodeName: "n1"})},
		"bound":                          {pod: pod("a", podOpts{nodeName: "n1", bound: true}), want: true},
		"PodScheduled=True, no nodeName": {pod: pod("a", podOpts{bound: true})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Bound(tc.pod); got != tc.want {
				t.Fatalf("Bound = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUsedIPs(t *testing.T) {
	pod := func(name, node, ip, phase string, hostNetwork bool) *corev1.Pod {
		return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name},
			Spec:   &corev1.PodSpec{NodeName: node, HostNetwork: hostNetwork},
			Status: &corev1.PodStatus{PodIp: ip, Phase: phase}}
	}
	got := UsedIPs([]*corev1.Pod{
		pod("running", "n1", "10.244.1.2", "Running", false),
		pod("pending-bound", "n1", "10.244.1.3", "Pending", false),
		pod("other-node", "n2", "10.244.2.2", "Running", false),
		pod("succeeded", "n1", "10.244.1.4", "Succeeded", false), // released when it ended
		pod("failed", "n2", "10.244.2.3", "Failed", false),
		pod("host-network", "n1", "172.18.0.3", "Running", true), // the node's address
		pod("unbound", "", "", "Pending", false),
	})
	want := map[string]map[string]bool{"n1": {"10.244.1.2": true, "10.244.1.3": true}, "n2": {"10.244.2.2": true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("UsedIPs = %v, want %v", got, want)
	}
}
