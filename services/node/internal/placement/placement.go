// Package placement is the pure half of the node service's scheduling pass:
// from the stored pods, the nodes and the pod IPs in use it decides which
// pending pods bind to which node with which IP (kube-scheduler's scheduling
// cycle, then the CNI's IP allocation) and why the others cannot. One pass
// sees its own earlier placements (resources and IPs). It reads nothing and
// writes nothing: the controller reads, calls Decide, and writes the plan.
package placement

import (
	"maps"
	"time"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Input is what one scheduling pass knows. Decide does not modify it.
type Input struct {
	// Pods are all stored pods: bound ones count against their node, pending
	// ones (not bound, not being deleted, not terminal) are placed.
	Pods  []*corev1.Pod
	Nodes []*nodev1.Node
	// UsedIPs are the pod IPs assigned per node (see UsedIPs).
	UsedIPs map[string]map[string]bool
	// LastIP is the last IP handed out per node, so allocation goes round-robin.
	LastIP map[string]string
	Now    time.Time
	// Delay is how long a new pod waits before it is placed (0: none).
	Delay time.Duration
}

// Binding is a pending pod's placement: its node, the node's InternalIP and
// the pod's IP (the host IP with hostNetwork).
type Binding struct {
	Pod           *corev1.Pod
	Node          string
	HostIP, PodIP string
}

// Unschedulable is a pod no node takes now, with the scheduler's message.
type Unschedulable struct {
	Pod    *corev1.Pod
	Reason string
}

// Plan is what a pass writes.
type Plan struct {
	// Bindings in the order decided (oldest pod first).
	Bindings []Binding
	// Unschedulable pods get PodScheduled=False and a FailedScheduling event.
	// A pod with a preset nodeName whose node is missing just waits: not here.
	Unschedulable []Unschedulable
	// LastIP is Input.LastIP with this pass's allocations.
	LastIP map[string]string
	// Requeue is when the next delayed pod is due (0: none waits).
	Requeue time.Duration
}

// Bound reports whether the scheduler (or the kubelet, for a preset nodeName)
// has bound the pod: PodScheduled=True and a nodeName.
func Bound(p *corev1.Pod) bool {
	_, c := podutil.GetPodCondition(p.GetStatus(), podutil.PodScheduled)
	return c.GetStatus() == podutil.ConditionTrue && p.GetSpec().GetNodeName() != ""
}

// Decide is one scheduling pass from scratch: the state of Input, then State.Schedule
// (every pending pod, oldest first, against the nodes and bound pods, updated as pods
// are placed; each placed pod gets an IP from its node's podCIDR, or the host's IP
// with hostNetwork; a pod whose node has no free IP is unschedulable).
func Decide(in Input) Plan {
	s := NewState()
	for _, n := range in.Nodes {
		s.Node(n, false)
	}
	for _, p := range in.Pods {
		s.Pod(p, false)
	}
	for node, ips := range in.UsedIPs {
		for ip := range ips {
			if s.used[node] == nil {
				s.used[node] = map[string]bool{}
			}
			s.used[node][ip] = true
		}
	}
	maps.Copy(s.lastIP, in.LastIP)
	plan := s.Schedule(in.Now, in.Delay)
	plan.LastIP = s.lastIP
	return plan
}

// UsedIPs are the pod IPs in use per node among pods: those of bound pods off the host
// network that have not reached a terminal phase (the node service releases the IP of a
// pod that has, and of a pod deleted), which is what the pod_ips table holds.
func UsedIPs(pods []*corev1.Pod) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, p := range pods {
		ip, node := p.GetStatus().GetPodIp(), p.GetSpec().GetNodeName()
		if ip == "" || node == "" || p.GetSpec().GetHostNetwork() || podutil.IsPodTerminal(p) {
			continue
		}
		if out[node] == nil {
			out[node] = map[string]bool{}
		}
		out[node][ip] = true
	}
	return out
}
