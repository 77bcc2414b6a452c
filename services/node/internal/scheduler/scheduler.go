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

// nodeInfo is a node with the sums of what its live pods request. A pod may be
// counted on a node the snapshot does not know yet (node nil): the node's usage is
// right when it arrives, as kube-scheduler's cache keeps such nodes.
type nodeInfo struct {
	node      *nodev1.Node
	alloc     Resources
	requested Resources // for the filter: what pods request
	nonZero   Resources // for scoring: with the default requests
	pods      int
	owners    map[string]int   // live pods per controller uid
	ports     map[hostPort]int // host ports live pods use (how many)
}

func newNodeInfo() *nodeInfo {
	return &nodeInfo{alloc: Resources{}, requested: Resources{}, nonZero: Resources{}, owners: map[string]int{}, ports: map[hostPort]int{}}
}

func (ni *nodeInfo) add(p *corev1.Pod) { ni.count(p, 1) }

func (ni *nodeInfo) remove(p *corev1.Pod) { ni.count(p, -1) }

// count adds (sign 1) or takes away (-1) a live pod's requests.
func (ni *nodeInfo) count(p *corev1.Pod, sign int64) {
	if podutil.IsPodTerminal(p) {
		return
	}
	ni.requested.addScaled(PodRequests(p), sign)
	ni.nonZero.addScaled(podRequests(p, true), sign)
	ni.pods += int(sign)
	for _, hp := range hostPorts(p) {
		ni.ports[hp] += int(sign)
		if ni.ports[hp] <= 0 {
			delete(ni.ports, hp)
		}
	}
	if uid := podutil.GetControllerOf(p.GetMetadata()).GetUid(); uid != "" {
		ni.owners[uid] += int(sign)
		if ni.owners[uid] <= 0 {
			delete(ni.owners, uid)
		}
	}
}

// Snapshot is the scheduler's view of the fleet: Schedule pods one after another and
// Assume each placement so the next decision sees it. It is also kept current
// incrementally (SetNode, RemoveNode, AddPod, RemovePod), the way kube-scheduler's
// cache follows its informers, so a pass costs the pods it places, not the world.
type Snapshot struct {
	byName map[string]*nodeInfo
	// nodes are the known nodes sorted by name, rebuilt when the set changes.
	nodes []*nodeInfo
	dirty bool
	// next is where the next search for feasible nodes starts (kube-scheduler's
	// nextStartNodeIndex), so that large fleets are searched in turns.
	next int
}

// NewSnapshot sums the requests of the bound pods per node once.
func NewSnapshot(nodes []*nodev1.Node, podsByNode map[string][]*corev1.Pod) *Snapshot {
	s := &Snapshot{byName: map[string]*nodeInfo{}}
	for _, n := range nodes {
		s.SetNode(n)
		for _, p := range podsByNode[n.GetMetadata().GetName()] {
			s.AddPod(p, n.GetMetadata().GetName())
		}
	}
	return s
}

func (s *Snapshot) info(node string) *nodeInfo {
	ni := s.byName[node]
	if ni == nil {
		ni = newNodeInfo()
		s.byName[node] = ni
	}
	return ni
}

// SetNode adds a node or replaces its object (usage is kept).
func (s *Snapshot) SetNode(n *nodev1.Node) {
	ni := s.info(n.GetMetadata().GetName())
	if ni.node == nil {
		s.dirty = true
	}
	ni.node, ni.alloc = n, Allocatable(n)
}

// RemoveNode forgets a node; pods still counted on it keep their usage, should it return.
func (s *Snapshot) RemoveNode(name string) {
	ni := s.byName[name]
	if ni == nil || ni.node == nil {
		return
	}
	ni.node, ni.alloc, s.dirty = nil, Resources{}, true
	if ni.pods == 0 {
		delete(s.byName, name)
	}
}

// AddPod counts a live pod bound to node.
func (s *Snapshot) AddPod(p *corev1.Pod, node string) { s.info(node).add(p) }

// RemovePod takes away a pod counted on node by AddPod or Assume.
func (s *Snapshot) RemovePod(p *corev1.Pod, node string) {
	ni := s.byName[node]
	if ni == nil {
		return
	}
	ni.remove(p)
	if ni.node == nil && ni.pods <= 0 {
		delete(s.byName, node)
	}
}

// Assume accounts pod as bound to node.
func (s *Snapshot) Assume(pod *corev1.Pod, node string) {
	if ni := s.byName[node]; ni != nil && ni.node != nil {
		ni.add(pod)
	}
}

// Len is the number of known nodes.
func (s *Snapshot) Len() int { return len(s.list()) }

func (s *Snapshot) list() []*nodeInfo {
	if s.dirty || s.nodes == nil {
		s.nodes = s.nodes[:0]
		for _, ni := range s.byName {
			if ni.node != nil {
				s.nodes = append(s.nodes, ni)
			}
		}
		sort.Slice(s.nodes, func(i, j int) bool {
			return s.nodes[i].node.GetMetadata().GetName() < s.nodes[j].node.GetMetadata().GetName()
		})
		s.dirty = false
		s.next = 0
	}
	return s.nodes
}

// kube-scheduler's bounds on the feasible nodes one pod looks for.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
	basePercentageOfNodesToScore     = 50
)

// NumFeasibleNodesToFind is kube-scheduler's numFeasibleNodesToFind with the default
// (adaptive) percentageOfNodesToScore: every node below 100, then 50% less 1% per
// 125 nodes, at least 5% and at least 100 nodes.
func NumFeasibleNodesToFind(numAllNodes int) int {
	if numAllNodes < minFeasibleNodesToFind {
		return numAllNodes
	}
	percentage := basePercentageOfNodesToScore - numAllNodes/125
	if percentage < minFeasibleNodesPercentageToFind {
		percentage = minFeasibleNodesPercentageToFind
	}
	n := numAllNodes * percentage / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// Schedule is Schedule against the snapshot (it does not Assume). As kube-scheduler
// does, it stops filtering once it has NumFeasibleNodesToFind feasible nodes, and the
// next pod's search starts where this one stopped; a pod no node takes is filtered
// against every node, for the FitError.
func (s *Snapshot) Schedule(pod *corev1.Pod) (node string, reason string) {
	nodes := s.list()
	if want := pod.GetSpec().GetNodeName(); want != "" {
		if ni, ok := s.byName[want]; ok && ni.node != nil {
			return want, ""
		}
		return "", fmt.Sprintf("node %q not found", want)
	}
	if len(nodes) == 0 {
		return "", ErrNoNodesAvailable
	}
	req := PodRequests(pod)
	want := NumFeasibleNodesToFind(len(nodes))
	var feasible []*nodeInfo
	reasons := map[string]int{}
	preemption := map[string]int{}
	processed := 0
	for i := range nodes {
		ni := nodes[(s.next+i)%len(nodes)]
		processed++
		why, resolvable := filter(pod, req, ni)
		if len(why) == 0 {
			feasible = append(feasible, ni)
			if len(feasible) >= want {
				break
			}
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
	s.next = (s.next + processed) % len(nodes)
	if len(feasible) == 0 {
		return "", fitError(len(nodes), reasons, preemption)
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
