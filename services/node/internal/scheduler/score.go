package scheduler

import (
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// maxNodeScore is framework.MaxNodeScore.
const maxNodeScore = 100

// Score plugin weights of the default profile.
const (
	weightLeastAllocated = 1
	weightBalanced       = 1
	weightSpread         = 2
	weightNodeAffinity   = 2
	weightTaints         = 3
)

// pickBest scores the feasible nodes and returns the best one; ties go to the
// first name (kube-scheduler picks one of them at random).
func pickBest(pod *corev1.Pod, nodes []*nodeInfo) string {
	if len(nodes) == 1 {
		return nodes[0].node.GetMetadata().GetName()
	}
	owner := podutil.GetControllerOf(pod.GetMetadata()).GetUid()
	req := podRequests(pod, true)
	n := len(nodes)
	least := make([]int64, n)
	balanced := make([]int64, n)
	spread := make([]int64, n)
	affinity := make([]int64, n)
	taints := make([]int64, n)
	var maxSpread, maxAffinity, maxTaints int64
	for i, ni := range nodes {
		node := ni.node
		used := Resources{}
		used.add(ni.nonZero)
		used.add(req)
		least[i] = leastAllocated(ni.alloc, used)
		balanced[i] = balancedAllocation(ni.alloc, used)
		if owner != "" {
			spread[i] = int64(ni.owners[owner])
		}
		affinity[i] = preferredAffinityScore(pod, node)
		taints[i] = int64(countIntolerable(node.GetSpec().GetTaints(), pod.GetSpec().GetTolerations()))
		maxSpread = max(maxSpread, spread[i])
		maxAffinity = max(maxAffinity, affinity[i])
		maxTaints = max(maxTaints, taints[i])
	}
	best, bestScore := 0, int64(-1)
	for i := range nodes {
		s := weightLeastAllocated*least[i] + weightBalanced*balanced[i]
		// SelectorSpread: fewer pods of the same owner scores higher.
		if maxSpread > 0 {
			s += weightSpread * maxNodeScore * (maxSpread - spread[i]) / maxSpread
		} else {
			s += weightSpread * maxNodeScore
		}
		if maxAffinity > 0 {
			s += weightNodeAffinity * maxNodeScore * affinity[i] / maxAffinity
		}
		// TaintToleration: fewer intolerable PreferNoSchedule taints scores higher.
		if maxTaints > 0 {
			s += weightTaints * (maxNodeScore - maxNodeScore*taints[i]/maxTaints)
		} else {
			s += weightTaints * maxNodeScore
		}
		// Ties go to the first name, whatever order the search found them in.
		if s > bestScore || s == bestScore && nodes[i].node.GetMetadata().GetName() < nodes[best].node.GetMetadata().GetName() {
			best, bestScore = i, s
		}
	}
	return nodes[best].node.GetMetadata().GetName()
}

// leastAllocated is NodeResourcesFit's LeastAllocated strategy over cpu and memory.
func leastAllocated(alloc, used Resources) int64 {
	var sum int64
	for _, r := range []string{ResourceCPU, ResourceMemory} {
		if alloc[r] <= 0 || used[r] > alloc[r] {
			continue
		}
		sum += (alloc[r] - used[r]) * maxNodeScore / alloc[r]
	}
	return sum / 2
}

// balancedAllocation is BalancedAllocation: 100 minus the spread of the cpu and
// memory fractions.
func balancedAllocation(alloc, used Resources) int64 {
	frac := func(r string) float64 {
		if alloc[r] <= 0 {
			return 0
		}
		return min(float64(used[r])/float64(alloc[r]), 1)
	}
	d := frac(ResourceCPU) - frac(ResourceMemory)
	if d < 0 {
		d = -d
	}
	return int64((1 - d/2) * maxNodeScore)
}
