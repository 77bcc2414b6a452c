package reconcile

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// PodDeletionCostAnnotation lets a user say which pods of a ReplicaSet go first
// on scale-down: lower cost goes first (Kubernetes' controller.kubernetes.io/pod-deletion-cost).
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// Pod phases the scale-down ranking orders (Succeeded and Failed live in util.go).
const (
	rankPhasePending = "Pending"
	rankPhaseUnknown = "Unknown"
	rankPhaseRunning = "Running"
)

// deletionPhaseOrdinal is Kubernetes' podPhaseToOrdinal: an unknown or empty
// phase ranks with Pending.
var deletionPhaseOrdinal = map[string]int{
	rankPhasePending: 0,
	rankPhaseUnknown: 1,
	rankPhaseRunning: 2,
}

// SortPodsForDeletion sorts pods in place, the pod to delete first at index 0,
// by Kubernetes' ActivePodsWithRanks order (controller_utils.go), as the
// ReplicaSet controller does when it scales down:
//
//  1. unassigned (no spec.nodeName) < assigned;
//  2. Pending < Unknown < Running;
//  3. not Ready < Ready;
//  4. lower controller.kubernetes.io/pod-deletion-cost < higher;
//  5. more co-located pods < fewer: the rank of a pod is the number of active
//     pods, among pods and related together, on the pod's node;
//  6. both Ready: Ready more recently < Ready longer (by the Ready condition's
//     lastTransitionTime; a missing time counts as most recent), compared on
//     a log2 scale of the age at now (LogarithmicScaleDown), ties in the same
//     bucket broken by uid;
//  7. higher max container restart count < lower;
//  8. newer creationTimestamp < older (a missing one first), on the same log2
//     scale with the uid tie-break.
//
// related are the active pods of sibling ReplicaSets (same controller); pods
// present in both lists are counted once (by uid, else namespace/name). Pods
// equal under every rule keep their input order.
func SortPodsForDeletion(pods []*corev1.Pod, related []*corev1.Pod, now time.Time) {
	sortPodsByRank(pods, coLocationRanks(pods, unionPods(pods, related)), now)
}

// unionPods returns the pods of a then those of b, each pod once.
func unionPods(a, b []*corev1.Pod) []*corev1.Pod {
	all := make([]*corev1.Pod, 0, len(a)+len(b))
	seen := make(map[string]bool, len(a)+len(b))
	for _, list := range [][]*corev1.Pod{a, b} {
		for _, p := range list {
			if key, ok := rankPodKey(p); ok {
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			all = append(all, p)
		}
	}
	return all
}

// rankPodKey identifies a pod for de-duplication; false when the pod has
// neither uid nor name (it is then never a duplicate).
func rankPodKey(p *corev1.Pod) (string, bool) {
	if uid := p.GetMetadata().GetUid(); uid != "" {
		return "uid:" + uid, true
	}
	if name := p.GetMetadata().GetName(); name != "" {
		return "name:" + p.GetMetadata().GetNamespace() + "/" + name, true
	}
	return "", false
}

// coLocationRanks is Kubernetes' getPodsRankedByRelatedPodsOnSameNode: the
// rank of each pod is the number of active pods in related on its node.
// related should be a superset of pods; nil gives every pod rank 0.
func coLocationRanks(pods, related []*corev1.Pod) []int {
	onNode := make(map[string]int)
	for _, p := range related {
		if podutil.IsPodActive(p) {
			onNode[p.GetSpec().GetNodeName()]++
		}
	}
	ranks := make([]int, len(pods))
	for i, p := range pods {
		ranks[i] = onNode[p.GetSpec().GetNodeName()]
	}
	return ranks
}

// sortPodsByRank sorts pods (and ranks alongside) so the first pod is the
// first to delete.
func sortPodsByRank(pods []*corev1.Pod, ranks []int, now time.Time) {
	s := podsWithRanks{pods: pods, ranks: ranks, now: now}
	sort.Stable(s)
}

// podsWithRanks is Kubernetes' ActivePodsWithRanks.
type podsWithRanks struct {
	pods  []*corev1.Pod
	ranks []int
	now   time.Time
}

func (s podsWithRanks) Len() int { return len(s.pods) }

func (s podsWithRanks) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.ranks[i], s.ranks[j] = s.ranks[j], s.ranks[i]
}

// Less reports whether pod i should be deleted before pod j.
func (s podsWithRanks) Less(i, j int) bool {
	pi, pj := s.pods[i], s.pods[j]

	// 1. Unassigned < assigned.
	ni, nj := pi.GetSpec().GetNodeName(), pj.GetSpec().GetNodeName()
	if ni != nj && (ni == "" || nj == "") {
		return ni == ""
	}
	// 2. Pending < Unknown < Running.
	oi, oj := deletionPhaseOrdinal[pi.GetStatus().GetPhase()], deletionPhaseOrdinal[pj.GetStatus().GetPhase()]
	if oi != oj {
		return oi < oj
	}
	// 3. Not ready < ready.
	ri, rj := podutil.IsPodReady(pi), podutil.IsPodReady(pj)
	if ri != rj {
		return !ri
	}
	// 4. Lower pod-deletion-cost < higher.
	ci, cj := podDeletionCost(pi), podDeletionCost(pj)
	if ci != cj {
		return ci < cj
	}
	// 5. Doubled up < not doubled up.
	if s.ranks[i] != s.ranks[j] {
		return s.ranks[i] > s.ranks[j]
	}
	// 6. Both ready: ready for less time < more time.
	if ri && rj {
		ti, tj := podReadySince(pi), podReadySince(pj)
		if !ti.Equal(tj) {
			return s.newerFirst(pi, pj, ti, tj)
		}
	}
	// 7. Higher restart count < lower.
	if mi, mj := maxContainerRestarts(pi), maxContainerRestarts(pj); mi != mj {
		return mi > mj
	}
	// 8. Newer (or no) creation time < older.
	ti, tj := podCreationTime(pi), podCreationTime(pj)
	if !ti.Equal(tj) {
		return s.newerFirst(pi, pj, ti, tj)
	}
	return false
}

// newerFirst orders two different timestamps newest first, a zero time before
// any other; with a known now both are compared by the integer log2 of their
// age, and a tie in that bucket goes to the lower uid (Kubernetes'
// LogarithmicScaleDown, on by default since 1.22).
func (s podsWithRanks) newerFirst(pi, pj *corev1.Pod, ti, tj time.Time) bool {
	if s.now.IsZero() || ti.IsZero() || tj.IsZero() {
		return afterOrZero(ti, tj)
	}
	diff := logarithmicRankDiff(ti, tj, s.now)
	if diff == 0 {
		return pi.GetMetadata().GetUid() < pj.GetMetadata().GetUid()
	}
	return diff < 0
}

// afterOrZero reports whether t1 is after t2, a zero time counting as after
// any other.
func afterOrZero(t1, t2 time.Time) bool {
	if t1.IsZero() || t2.IsZero() {
		return t1.IsZero()
	}
	return t1.After(t2)
}

// logarithmicRankDiff compares the integer base-2 logarithms of the ages (in
// nanoseconds) of t1 and t2 at now; a time not in the past ranks -1.
func logarithmicRankDiff(t1, t2, now time.Time) int64 {
	r1, r2 := int64(-1), int64(-1)
	if d := now.Sub(t1); d > 0 {
		r1 = int64(math.Log2(float64(d)))
	}
	if d := now.Sub(t2); d > 0 {
		r2 = int64(math.Log2(float64(d)))
	}
	return r1 - r2
}

// podReadySince is the lastTransitionTime of a Ready pod's Ready condition,
// zero when not ready or unknown.
func podReadySince(p *corev1.Pod) time.Time {
	if !podutil.IsPodReady(p) {
		return time.Time{}
	}
	if ts := podutil.GetPodReadyCondition(p.GetStatus()).GetLastTransitionTime(); ts != nil {
		return ts.AsTime()
	}
	return time.Time{}
}

// podCreationTime is the pod's creationTimestamp, zero when unset.
func podCreationTime(p *corev1.Pod) time.Time {
	if ts := p.GetMetadata().GetCreationTimestamp(); ts != nil {
		return ts.AsTime()
	}
	return time.Time{}
}

// maxContainerRestarts is the highest restart count of the pod's containers.
func maxContainerRestarts(p *corev1.Pod) int32 {
	var most int32
	for _, c := range p.GetStatus().GetContainerStatuses() {
		most = max(most, c.GetRestartCount())
	}
	return most
}

// podDeletionCost reads the pod-deletion-cost annotation; a missing or invalid
// value (not an int32, a leading "+" or zero) is 0, as in Kubernetes.
func podDeletionCost(p *corev1.Pod) int32 {
	v, ok := p.GetMetadata().GetAnnotations()[PodDeletionCostAnnotation]
	if !ok || v == "" {
		return 0
	}
	if first := v[0]; !(first == '-' || v == "0" || (first >= '1' && first <= '9')) {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}
