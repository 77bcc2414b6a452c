package scheduler

import (
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func withHostPort(p *corev1.Pod, ip, protocol string, port int32) *corev1.Pod {
	c := p.Spec.Containers[0]
	c.Ports = append(c.Ports, &corev1.ContainerPort{ContainerPort: 80, HostPort: port, HostIp: ip, Protocol: protocol})
	return p
}

// TestScheduleHostPorts: the NodePorts filter keeps two pods wanting the same
// host port (protocol, IP) off one node.
func TestScheduleHostPorts(t *testing.T) {
	nodes := []*nodev1.Node{testNode("node-1", nodeOpts{}), testNode("node-2", nodeOpts{})}
	onBoth := func(ip, protocol string, port int32) map[string][]*corev1.Pod {
		return map[string][]*corev1.Pod{
			"node-1": {withHostPort(testPod("a", podOpts{}), ip, protocol, port)},
			"node-2": {withHostPort(testPod("b", podOpts{}), ip, protocol, port)},
		}
	}
	noFit := "0/2 nodes are available: 2 " + ReasonNodePorts + ". preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
	cases := map[string]struct {
		pod        *corev1.Pod
		podsByNode map[string][]*corev1.Pod
		wantNode   string
		wantReason string
	}{
		"the port is taken on node-1": {
			pod:        withHostPort(testPod("p", podOpts{}), "", "", 8080),
			podsByNode: map[string][]*corev1.Pod{"node-1": {withHostPort(testPod("a", podOpts{}), "", "TCP", 8080)}},
			wantNode:   "node-2",
		},
		"taken on every node": {
			pod: withHostPort(testPod("p", podOpts{}), "", "", 8080), podsByNode: onBoth("", "", 8080), wantReason: noFit,
		},
		"another protocol is free": {
			pod: withHostPort(testPod("p", podOpts{}), "", "UDP", 8080), podsByNode: onBoth("", "", 8080), wantNode: "node-1",
		},
		"another port is free": {
			pod: withHostPort(testPod("p", podOpts{}), "", "", 8081), podsByNode: onBoth("", "", 8080), wantNode: "node-1",
		},
		"another IP is free": {
			pod: withHostPort(testPod("p", podOpts{}), "10.0.0.2", "", 8080), podsByNode: onBoth("10.0.0.1", "", 8080), wantNode: "node-1",
		},
		"the same IP conflicts": {
			pod: withHostPort(testPod("p", podOpts{}), "10.0.0.1", "", 8080), podsByNode: onBoth("10.0.0.1", "", 8080), wantReason: noFit,
		},
		"0.0.0.0 conflicts with any IP": {
			pod: withHostPort(testPod("p", podOpts{}), "", "", 8080), podsByNode: onBoth("10.0.0.1", "", 8080), wantReason: noFit,
		},
		"any IP conflicts with 0.0.0.0": {
			pod: withHostPort(testPod("p", podOpts{}), "10.0.0.1", "", 8080), podsByNode: onBoth("0.0.0.0", "", 8080), wantReason: noFit,
		},
		"a terminal pod frees its port": {
			pod: withHostPort(testPod("p", podOpts{}), "", "", 8080),
			podsByNode: map[string][]*corev1.Pod{
				"node-1": {withHostPort(testPod("a", podOpts{phase: "Failed"}), "", "", 8080)},
				"node-2": {withHostPort(testPod("b", podOpts{}), "", "", 8080)},
			},
			wantNode: "node-1",
		},
		"a containerPort alone takes no host port": {
			pod: func() *corev1.Pod {
				p := testPod("p", podOpts{})
				p.Spec.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 8080}}
				return p
			}(),
			podsByNode: onBoth("", "", 8080), wantNode: "node-1",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			node, reason := Schedule(tc.pod, nodes, tc.podsByNode)
			if node != tc.wantNode || reason != tc.wantReason {
				t.Errorf("Schedule = (%q, %q),\nwant       (%q, %q)", node, reason, tc.wantNode, tc.wantReason)
			}
		})
	}
}

// TestSnapshotAssumesHostPorts: two pods of one pass wanting the same host port
// land on different nodes, and a third finds none.
func TestSnapshotAssumesHostPorts(t *testing.T) {
	s := NewSnapshot([]*nodev1.Node{testNode("node-1", nodeOpts{}), testNode("node-2", nodeOpts{})}, nil)
	var got []string
	for _, name := range []string{"a", "b", "c"} {
		p := withHostPort(testPod(name, podOpts{}), "", "", 9000)
		node, _ := s.Schedule(p)
		if node != "" {
			s.Assume(p, node)
		}
		got = append(got, node)
	}
	if got[0] == "" || got[1] == "" || got[0] == got[1] || got[2] != "" {
		t.Fatalf("placements %q, want two distinct nodes then none", got)
	}
}
