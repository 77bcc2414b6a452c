// Package scheduler is the pure decision of kube-scheduler's default profile,
// reduced to what the simulated fleet needs: filters (NodeUnschedulable,
// TaintToleration, NodeAffinity, node readiness, NodePorts, NodeResourcesFit) and scores
// (LeastAllocated, BalancedAllocation, spreading pods of one owner, preferred
// node affinity, PreferNoSchedule taints). Schedule reads nothing and writes
// nothing; the caller keeps podsByNode up to date between calls.
package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/scheduling"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Reasons Kubernetes' filter plugins report, word for word.
const (
	ReasonUnschedulable    = "node(s) were unschedulable"
	ReasonNodeAffinity     = "node(s) didn't match Pod's node affinity/selector"
	ReasonTooManyPods      = "Too many pods"
	reasonUntoleratedTaint = "node(s) had untolerated taint {%s: %s}"

	// ErrNoNodesAvailable is the scheduler's message when the fleet is empty.
	ErrNoNodesAvailable = "no nodes available to schedule pods"

	preemptionNotHelpful = "Preemption is not helpful for scheduling"
	preemptionNoVictims  = "No preemption victims found for incoming pod"
)

// Schedule picks the node for pod among nodes, given the pods already bound
// to each node (terminal pods are ignored). It returns the node's name, or ""
// and Kubernetes' FitError message ("0/3 nodes are available: ...") when no
// node fits. A preset spec.nodeName is honoured when that node exists, as the
// kubelet would run it; otherwise the pod waits for the node.
func Schedule(pod *corev1.Pod, nodes []*nodev1.Node, podsByNode map[string][]*corev1.Pod) (node string, reason string) {
	return NewSnapshot(nodes, podsByNode).Schedule(pod)
}

// nodeInfo is a node with the sums of what its live pods request.
type nodeInfo struct {
	node      *nodev1.Node
	alloc     Resources
	requested Resources // for the filter: what pods request
	nonZero   Resources // for scoring: with the default requests
	pods      int
	owners    map[string]int    // live pods per controller uid
	ports     map[hostPort]bool // host ports live pods use
}

func (ni *nodeInfo) add(p *corev1.Pod) {
	if podutil.IsPodTerminal(p) {
		return
	}
	ni.requested.add(PodRequests(p))
	ni.nonZero.add(podRequests(p, true))
	ni.pods++
	for _, hp := range hostPorts(p) {
		ni.ports[hp] = true
	}
	if uid := podutil.GetControllerOf(p.GetMetadata()).GetUid(); uid != "" {
		ni.owners[uid]++
	}
}

// Snapshot is the scheduler's view of the fleet for a pass: Schedule pods one
// after another and Assume each placement so the next decision sees it.
type Snapshot struct {
	nodes  []*nodeInfo
	byName map[string]*nodeInfo
}

// NewSnapshot sums the requests of the bound pods per node once.
func NewSnapshot(nodes []*nodev1.Node, podsByNode map[string][]*corev1.Pod) *Snapshot {
	s := &Snapshot{byName: map[string]*nodeInfo{}}
	for _, n := range nodes {
		ni := &nodeInfo{node: n, alloc: Allocatable(n), requested: Resources{}, nonZero: Resources{}, owners: map[string]int{}, ports: map[hostPort]bool{}}
		for _, p := range podsByNode[n.GetMetadata().GetName()] {
			ni.add(p)
		}
		s.nodes = append(s.nodes, ni)
		s.byName[n.GetMetadata().GetName()] = ni
	}
	return s
}

// Assume accounts pod as bound to node.
func (s *Snapshot) Assume(pod *corev1.Pod, node string) {
	if ni := s.byName[node]; ni != nil {
		ni.add(pod)
	}
}

// Schedule is Schedule against the snapshot (it does not Assume).
func (s *Snapshot) Schedule(pod *corev1.Pod) (node string, reason string) {
	if want := pod.GetSpec().GetNodeName(); want != "" {
		if _, ok := s.byName[want]; ok {
			return want, ""
		}
		return "", fmt.Sprintf("node %q not found", want)
	}
	if len(s.nodes) == 0 {
		return "", ErrNoNodesAvailable
	}
	req := PodRequests(pod)
	var feasible []*nodeInfo
	reasons := map[string]int{}
	preemption := map[string]int{}
	for _, ni := range s.nodes {
		why, resolvable := filter(pod, req, ni)
		if len(why) == 0 {
			feasible = append(feasible, ni)
			continue
		}
		for _, r := range why {
			reasons[r]++
		}
		if resolvable {
			preemption[preemptionNoVictims]++
		} else {
			preemption[preemptionNotHelpful]++
		}
	}
	if len(feasible) == 0 {
		return "", fitError(len(s.nodes), reasons, preemption)
	}
	return pickBest(pod, feasible), ""
}

// fitError renders Kubernetes' FitError.Error: the sorted histogram of filter
// reasons, then the preemption plugin's diagnosis.
func fitError(numNodes int, reasons, preemption map[string]int) string {
	msg := fmt.Sprintf("0/%d nodes are available: %s.", numNodes, histogram(reasons))
	msg += fmt.Sprintf(" preemption: 0/%d nodes are available: %s.", numNodes, histogram(preemption))
	return msg
}

func histogram(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%d %s", v, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// filter runs the filters in the default profile's order and returns the
// reasons of the first failing one; resolvable is true when only resources
// were missing (preemption could help in principle).
func filter(pod *corev1.Pod, req Resources, ni *nodeInfo) (reasons []string, resolvable bool) {
	node := ni.node
	tolerations := pod.GetSpec().GetTolerations()
	if node.GetSpec().GetUnschedulable() &&
		!scheduling.Tolerates(tolerations, &corev1.Taint{Key: TaintNodeUnschedulable, Effect: EffectNoSchedule}) {
		return []string{ReasonUnschedulable}, false
	}
	if t := scheduling.FirstUntolerated(EffectiveTaints(node), tolerations, EffectNoSchedule, EffectNoExecute); t != nil {
		return []string{fmt.Sprintf(reasonUntoleratedTaint, t.GetKey(), t.GetValue())}, false
	}
	if !scheduling.MatchesNodeSelectorAndAffinity(pod.GetSpec(), node) {
		return []string{ReasonNodeAffinity}, false
	}
	if portsConflict(hostPorts(pod), ni.ports) {
		return []string{ReasonNodePorts}, true
	}
	if r := fitsResources(req, ni); len(r) > 0 {
		return r, true
	}
	return nil, false
}

// EffectiveTaints are the node's taints plus the not-ready/unreachable taint
// the node lifecycle controller would add when the Ready condition is not
// True and the node does not carry one yet: that is how readiness filters.
func EffectiveTaints(node *nodev1.Node) []*corev1.Taint {
	taints := node.GetSpec().GetTaints()
	status := ReadyStatus(node)
	if status == "True" {
		return taints
	}
	for _, t := range taints {
		if t.GetKey() == TaintNodeNotReady || t.GetKey() == TaintNodeUnreachable {
			return taints
		}
	}
	key := TaintNodeNotReady
	if status == "Unknown" {
		key = TaintNodeUnreachable
	}
	return append(append([]*corev1.Taint(nil), taints...), &corev1.Taint{Key: key, Effect: EffectNoSchedule})
}

// ReadyStatus is the status of the node's Ready condition ("Unknown" when absent).
func ReadyStatus(node *nodev1.Node) string {
	for _, c := range node.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus()
		}
	}
	return "Unknown"
}

// fitsResources is NodeResourcesFit's Filter: the pod count, then every
// requested resource against allocatable minus what live pods request.
func fitsResources(req Resources, ni *nodeInfo) []string {
	alloc, used := ni.alloc, ni.requested
	var reasons []string
	if max, ok := alloc[ResourcePods]; ok && int64(ni.pods)+1 > max {
		reasons = append(reasons, ReasonTooManyPods)
	}
	names := make([]string, 0, len(req))
	for k, v := range req {
		if v > 0 && k != ResourcePods {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return resourceOrder(names[i]) < resourceOrder(names[j]) })
	for _, k := range names {
		if req[k] > alloc[k]-used[k] {
			reasons = append(reasons, "Insufficient "+k)
		}
	}
	return reasons
}

func resourceOrder(name string) string {
	switch name {
	case ResourceCPU:
		return "0"
	case ResourceMemory:
		return "1"
	case "ephemeral-storage":
		return "2"
	}
	return "3" + name
}
