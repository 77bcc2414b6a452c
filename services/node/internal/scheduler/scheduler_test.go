package scheduler

import (
	"fmt"
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

const cpTaintReason = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"

func TestSchedule(t *testing.T) {
	cases := map[string]struct {
		pod        *corev1.Pod
		nodes      []*nodev1.Node
		podsByNode map[string][]*corev1.Pod
		wantNode   string
		wantReason string
	}{
		"plain pod avoids the tainted control plane": {
			pod: testPod("p", podOpts{}), nodes: fleet(), wantNode: "node-1",
		},
		"least allocated wins": {
			pod: testPod("p", podOpts{cpu: "100m"}), nodes: fleet(),
			podsByNode: map[string][]*corev1.Pod{"node-1": {testPod("busy", podOpts{cpu: "2"})}},
			wantNode:   "node-2",
		},
		"preset nodeName is honoured even on a tainted node": {
			pod: testPod("p", podOpts{nodeName: "control-plane"}), nodes: fleet(), wantNode: "control-plane",
		},
		"preset nodeName of a missing node waits": {
			pod: testPod("p", podOpts{nodeName: "node-9"}), nodes: fleet(), wantReason: `node "node-9" not found`,
		},
		"no nodes": {
			pod: testPod("p", podOpts{}), wantReason: ErrNoNodesAvailable,
		},
		"nodeSelector": {
			pod: testPod("p", podOpts{nodeSelector: map[string]string{"disk": "hdd"}}), nodes: fleet(), wantNode: "node-2",
		},
		"nodeSelector nobody matches": {
			pod: testPod("p", podOpts{nodeSelector: map[string]string{"disk": "nvme"}}), nodes: fleet(),
			wantReason: "0/3 nodes are available: 1 " + cpTaintReason + ", 2 " + ReasonNodeAffinity +
				". preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		"required node affinity": {
			pod: testPod("p", podOpts{affinity: affinityIn("disk", "hdd", "tape")}), nodes: fleet(), wantNode: "node-2",
		},
		"toleration opens the control plane": {
			pod: testPod("p", podOpts{
				nodeSelector: map[string]string{"kubernetes.io/hostname": "control-plane"},
				tolerations:  []*corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: OpExists, Effect: EffectNoSchedule}},
			}),
			nodes: []*nodev1.Node{
				testNode("control-plane", nodeOpts{labels: map[string]string{"kubernetes.io/hostname": "control-plane"}, taints: []*corev1.Taint{controlPlaneTaint()}}),
				testNode("node-1", nodeOpts{}),
			},
			wantNode: "control-plane",
		},
		"NoExecute taint filters": {
			pod: testPod("p", podOpts{}),
			nodes: []*nodev1.Node{
				testNode("node-1", nodeOpts{taints: []*corev1.Taint{{Key: "k", Value: "v", Effect: EffectNoExecute}}}),
			},
			wantReason: "0/1 nodes are available: 1 node(s) had untolerated taint {k: v}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
		},
		"PreferNoSchedule only scores": {
			pod: testPod("p", podOpts{}),
			nodes: []*nodev1.Node{
				testNode("node-1", nodeOpts{taints: []*corev1.Taint{{Key: "k", Effect: EffectPreferNoSchedule}}}),
				testNode("node-2", nodeOpts{}),
			},
			wantNode: "node-2",
		},
		"PreferNoSchedule alone still schedules": {
			pod: testPod("p", podOpts{}),
			nodes: []*nodev1.Node{
				testNode("node-1", nodeOpts{taints: []*corev1.Taint{{Key: "k", Effect: EffectPreferNoSchedule}}}),
			},
			wantNode: "node-1",
		},
		"unschedulable node": {
			pod:        testPod("p", podOpts{}),
			nodes:      []*nodev1.Node{testNode("node-1", nodeOpts{unschedulable: true})},
			wantReason: "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
		},
		"unschedulable tolerated": {
			pod:      testPod("p", podOpts{tolerations: []*corev1.Toleration{{Key: TaintNodeUnschedulable, Operator: OpExists}}}),
			nodes:    []*nodev1.Node{testNode("node-1", nodeOpts{unschedulable: true})},
			wantNode: "node-1",
		},
		"not ready node": {
			pod:        testPod("p", podOpts{}),
			nodes:      []*nodev1.Node{testNode("node-1", nodeOpts{ready: "Unknown"}), testNode("node-2", nodeOpts{ready: "False"})},
			wantReason: "0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		"insufficient cpu": {
			pod: testPod("p", podOpts{cpu: "3"}), nodes: fleet(),
			podsByNode: map[string][]*corev1.Pod{
				"node-1": {testPod("a", podOpts{cpu: "2"})},
				"node-2": {testPod("b", podOpts{cpu: "1500m"})},
			},
			wantReason: "0/3 nodes are available: 1 " + cpTaintReason + ", 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.",
		},
		"insufficient cpu and memory": {
			pod:        testPod("p", podOpts{cpu: "5", memory: "32Gi"}),
			nodes:      []*nodev1.Node{testNode("node-1", nodeOpts{})},
			wantReason: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		"terminal pods free their requests": {
			pod:   testPod("p", podOpts{cpu: "3"}),
			nodes: []*nodev1.Node{testNode("node-1", nodeOpts{})},
			podsByNode: map[string][]*corev1.Pod{
				"node-1": {testPod("done", podOpts{cpu: "2", phase: "Succeeded"}), testPod("failed", podOpts{cpu: "2", phase: "Failed"})},
			},
			wantNode: "node-1",
		},
		"too many pods": {
			pod:        testPod("p", podOpts{}),
			nodes:      []*nodev1.Node{testNode("node-1", nodeOpts{pods: 1})},
			podsByNode: map[string][]*corev1.Pod{"node-1": {testPod("a", podOpts{})}},
			wantReason: "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		"spread pods of one owner": {
			pod:   testPod("p", podOpts{owner: "rs-1"}),
			nodes: fleet(),
			podsByNode: map[string][]*corev1.Pod{
				"node-1": {testPod("a", podOpts{owner: "rs-1"})},
				"node-2": {testPod("x", podOpts{owner: "rs-2"}), testPod("y", podOpts{owner: "rs-2"})},
			},
			wantNode: "node-2",
		},
		"preferred affinity": {
			pod: testPod("p", podOpts{affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []*corev1.PreferredSchedulingTerm{{
					Weight: 50, Preference: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "disk", Operator: "In", Values: []string{"hdd"}}}},
				}},
			}}}),
			nodes:    fleet(),
			wantNode: "node-2",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			node, reason := Schedule(tc.pod, tc.nodes, tc.podsByNode)
			if node != tc.wantNode || reason != tc.wantReason {
				t.Errorf("Schedule = (%q, %q),\nwant       (%q, %q)", node, reason, tc.wantNode, tc.wantReason)
			}
		})
	}
}

// TestScheduleSpreadsReplicas places 20 pods of one owner one after another,
// the way the scheduler's sync does, and expects an even spread off the control plane.
func TestScheduleSpreadsReplicas(t *testing.T) {
	nodes := fleet()
	byNode := map[string][]*corev1.Pod{}
	for i := range 20 {
		p := testPod(fmt.Sprintf("p-%d", i), podOpts{owner: "rs-1", cpu: "100m"})
		n, reason := Schedule(p, nodes, byNode)
		if n == "" {
			t.Fatalf("pod %d unschedulable: %s", i, reason)
		}
		byNode[n] = append(byNode[n], p)
	}
	if len(byNode["control-plane"]) != 0 || len(byNode["node-1"]) != 10 || len(byNode["node-2"]) != 10 {
		t.Errorf("spread = control-plane %d, node-1 %d, node-2 %d; want 0/10/10",
			len(byNode["control-plane"]), len(byNode["node-1"]), len(byNode["node-2"]))
	}
}

func TestPodRequests(t *testing.T) {
	pod := testPod("p", podOpts{cpu: "100m", memory: "64Mi"})
	pod.Spec.Containers = append(pod.Spec.Containers, testPod("q", podOpts{cpu: "200m"}).Spec.Containers...)
	pod.Spec.InitContainers = testPod("i", podOpts{cpu: "1", memory: "1Mi"}).Spec.Containers
	got := PodRequests(pod)
	if got["cpu"] != 1000 || got["memory"] != 64<<20 {
		t.Errorf("PodRequests = %v, want cpu 1000 (init max), memory 64Mi", got)
	}
}
