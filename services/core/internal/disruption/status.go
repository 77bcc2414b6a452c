// Package disruption is the pure half of Kubernetes' disruption controller
// (pkg/controller/disruption) and of the eviction subresource's budget check
// (pkg/registry/core/pod/storage/eviction.go): what a PodDisruptionBudget's status
// is for the pods it selects, and whether a pod may be evicted under it.
package disruption

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

// DeletionTimeout is how long a pod stays in disruptedPods, uncounted, after its
// eviction: a pod not deleted by then counts again (Kubernetes' DeletionTimeout).
const DeletionTimeout = 2 * time.Minute

// Condition type and reasons of a budget's status, as Kubernetes names them.
const (
	ConditionDisruptionAllowed = "DisruptionAllowed"
	ReasonSufficientPods       = "SufficientPods"
	ReasonInsufficientPods     = "InsufficientPods"
	ReasonSyncFailed           = "SyncFailed"
)

// Scale is a scalable controller of the selected pods: the one whose scale counts
// (a ReplicaSet's Deployment when it has one), by uid, with its spec.replicas.
type Scale struct {
	UID      string
	Replicas int32
}

// Input is what a sync of one budget has read: the pods its selector matches in its
// namespace, and, when the budget needs them (maxUnavailable, or a percentage
// minAvailable), the scale of each pod controller, keyed by the controllerRef's
// uid (absent: no such controller).
type Input struct {
	PDB    *policyv1.PodDisruptionBudget
	Pods   []*corev1.Pod
	Scales map[string]Scale
	Now    time.Time
}

// Result is the budget's new status (nil when unchanged), when to look again (a
// disrupted pod's timeout), and the pods without controller when the budget needs
// controllers' scales (Kubernetes then records UnmanagedPods).
type Result struct {
	Status    *policyv1.PodDisruptionBudgetStatus
	Recheck   time.Duration
	Unmanaged []string
}

// NeedsScales reports whether the budget's expected pod count comes from the
// scales of the pods' controllers (maxUnavailable, or a percentage minAvailable)
// rather than from the number of pods (an integer minAvailable).
func NeedsScales(pdb *policyv1.PodDisruptionBudget) bool {
	s := pdb.GetSpec()
	return s.GetMaxUnavailable() != nil || (s.GetMinAvailable() != nil && validation.IsPercent(s.GetMinAvailable()))
}

// expected is getExpectedPodCount: the pods expected and the healthy ones desired.
func expected(in Input) (expectedCount, desiredHealthy int32, unmanaged []string, err error) {
	s := in.PDB.GetSpec()
	scale := func() (int32, error) {
		seen := map[string]int32{}
		for _, p := range in.Pods {
			ref := podutil.GetControllerOf(p.GetMetadata())
			if ref == nil {
				unmanaged = append(unmanaged, p.GetMetadata().GetName())
				continue
			}
			sc, ok := in.Scales[ref.GetUid()]
			if !ok {
				return 0, fmt.Errorf("found no controllers for pod %q", p.GetMetadata().GetName())
			}
			seen[sc.UID] = sc.Replicas
		}
		var n int32
		for _, r := range seen {
			n += r
		}
		return n, nil
	}
	switch {
	case s.GetMaxUnavailable() != nil:
		if expectedCount, err = scale(); err != nil {
			return 0, 0, unmanaged, err
		}
		maxUnavailable, err := validation.IntOrPercent(s.GetMaxUnavailable(), int(expectedCount), true)
		if err != nil {
			return 0, 0, unmanaged, err
		}
		desiredHealthy = max(expectedCount-int32(maxUnavailable), 0)
	case s.GetMinAvailable() != nil && !validation.IsPercent(s.GetMinAvailable()):
		minAvailable, err := validation.IntOrPercent(s.GetMinAvailable(), 0, true)
		if err != nil {
			return 0, 0, unmanaged, err
		}
		desiredHealthy, expectedCount = int32(minAvailable), int32(len(in.Pods))
	case s.GetMinAvailable() != nil:
		if expectedCount, err = scale(); err != nil {
			return 0, 0, unmanaged, err
		}
		minAvailable, err := validation.IntOrPercent(s.GetMinAvailable(), int(expectedCount), true)
		if err != nil {
			return 0, 0, unmanaged, err
		}
		desiredHealthy = int32(minAvailable)
	}
	return expectedCount, desiredHealthy, unmanaged, nil
}

// disrupted is buildDisruptedPodMap: the evicted pods still expected to go (not
// being deleted yet, within DeletionTimeout), and the earliest of their timeouts.
func disrupted(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]*timestamppb.Timestamp, time.Duration) {
	out := map[string]*timestamppb.Timestamp{}
	var recheck time.Duration
	was := pdb.GetStatus().GetDisruptedPods()
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		at, ok := was[p.GetMetadata().GetName()]
		if !ok {
			continue
		}
		due := at.AsTime().Add(DeletionTimeout)
		if !due.After(now) {
			continue // expected to be deleted but was not: it counts again
		}
		if d := due.Sub(now); recheck == 0 || d < recheck {
			recheck = d
		}
		out[p.GetMetadata().GetName()] = at
	}
	return out, recheck
}

// healthy is countHealthyPods: ready pods neither being deleted nor just evicted.
func healthy(pods []*corev1.Pod, disruptedPods map[string]*timestamppb.Timestamp) int32 {
	var n int32
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		if _, ok := disruptedPods[p.GetMetadata().GetName()]; ok {
			continue
		}
		if podutil.IsPodReady(p) {
			n++
		}
	}
	return n
}

// Compute is the disruption controller's trySync and updatePdbStatus: the status
// the budget should have. A failure to count (a pod whose controller is missing)
// is the failSafe status: no disruption allowed, condition SyncFailed.
func Compute(in Input) Result {
	pdb := in.PDB
	expectedCount, desiredHealthy, unmanaged, err := expected(in)
	if err != nil {
		st := cloneStatus(pdb)
		st.DisruptionsAllowed = proto.Int32(0)
		setCondition(st, &corev1.Condition{Type: ConditionDisruptionAllowed, Status: "False", Reason: ReasonSyncFailed,
			Message: err.Error(), ObservedGeneration: proto.Int64(st.GetObservedGeneration())}, in.Now)
		return Result{Status: changed(pdb, st), Unmanaged: unmanaged}
	}
	disruptedPods, recheck := disrupted(pdb, in.Pods, in.Now)
	currentHealthy := healthy(in.Pods, disruptedPods)
	allowed := currentHealthy - desiredHealthy
	if expectedCount <= 0 || allowed <= 0 {
		allowed = 0
	}
	st := cloneStatus(pdb)
	st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods = proto.Int32(currentHealthy), proto.Int32(desiredHealthy), proto.Int32(expectedCount)
	st.DisruptionsAllowed, st.ObservedGeneration = proto.Int32(allowed), pdb.GetMetadata().GetGeneration()
	st.DisruptedPods = disruptedPods
	if len(disruptedPods) == 0 {
		st.DisruptedPods = nil
	}
	UpdateDisruptionAllowedCondition(st, in.Now)
	return Result{Status: changed(pdb, st), Recheck: recheck, Unmanaged: unmanaged}
}

// UpdateDisruptionAllowedCondition is pdbhelper's: DisruptionAllowed True
// (SufficientPods) when a disruption is allowed, False (InsufficientPods) otherwise.
func UpdateDisruptionAllowedCondition(st *policyv1.PodDisruptionBudgetStatus, now time.Time) {
	c := &corev1.Condition{Type: ConditionDisruptionAllowed, Status: "False", Reason: ReasonInsufficientPods,
		ObservedGeneration: proto.Int64(st.GetObservedGeneration())}
	if st.GetDisruptionsAllowed() > 0 {
		c.Status, c.Reason = "True", ReasonSufficientPods
	}
	setCondition(st, c, now)
}

// setCondition is apimeta.SetStatusCondition: lastTransitionTime moves only when
// the status changes.
func setCondition(st *policyv1.PodDisruptionBudgetStatus, c *corev1.Condition, now time.Time) {
	for i, old := range st.Conditions {
		if old.GetType() != c.GetType() {
			continue
		}
		c.LastTransitionTime = old.GetLastTransitionTime()
		if old.GetStatus() != c.GetStatus() || c.LastTransitionTime == nil {
			c.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
		}
		st.Conditions[i] = c
		return
	}
	c.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
	st.Conditions = append(st.Conditions, c)
}

func cloneStatus(pdb *policyv1.PodDisruptionBudget) *policyv1.PodDisruptionBudgetStatus {
	if pdb.GetStatus() == nil {
		return &policyv1.PodDisruptionBudgetStatus{}
	}
	return proto.Clone(pdb.GetStatus()).(*policyv1.PodDisruptionBudgetStatus)
}

// changed returns st, or nil when it is what the budget already has.
func changed(pdb *policyv1.PodDisruptionBudget, st *policyv1.PodDisruptionBudgetStatus) *policyv1.PodDisruptionBudgetStatus {
	if proto.Equal(pdb.GetStatus(), st) {
		return nil
	}
	return st
}

// DisruptedNames are the names in a status's disruptedPods, sorted (for messages and tests).
func DisruptedNames(st *policyv1.PodDisruptionBudgetStatus) []string {
	names := slices.Collect(maps.Keys(st.GetDisruptedPods()))
	sort.Strings(names)
	return names
}
