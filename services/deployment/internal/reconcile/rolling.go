package reconcile

import (
	"slices"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// rolloutRolling is Kubernetes' rolloutRolling: create the new ReplicaSet if
// needed, scale it up within maxSurge, else scale old ones down within
// maxUnavailable; clean up history once the previous status showed completion.
func (s *syncer) rolloutRolling() {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(true)
	if err != nil {
		return
	}
	allRSs := append(slices.Clone(oldRSs), newRS)

	if s.reconcileNewReplicaSet(allRSs, newRS) {
		s.syncRolloutStatus(allRSs, newRS)
		return
	}
	if s.reconcileOldReplicaSets(allRSs, filterActive(oldRSs), newRS) {
		s.syncRolloutStatus(allRSs, newRS)
		return
	}
	if s.deploymentComplete(s.d.Status) {
		s.cleanupDeployment(oldRSs)
	}
	s.syncRolloutStatus(allRSs, newRS)
}

// reconcileNewReplicaSet scales the new ReplicaSet towards spec.replicas as
// far as maxSurge allows (or down to spec.replicas when above it).
func (s *syncer) reconcileNewReplicaSet(allRSs []*deploymentv1.ReplicaSet, newRS *deploymentv1.ReplicaSet) bool {
	if specReplicas(newRS) == s.p.replicas {
		return false
	}
	if specReplicas(newRS) > s.p.replicas {
		return s.scaleReplicaSetAndRecordEvent(newRS, s.p.replicas)
	}
	return s.scaleReplicaSetAndRecordEvent(newRS, s.newRSNewReplicas(allRSs, newRS))
}

// reconcileOldReplicaSets scales old ReplicaSets down: first their unhealthy
// replicas, then healthy ones while availability stays >= replicas-maxUnavailable.
//
//	maxScaledDown = allPods - minAvailable - newRSUnavailable
//
// counts the new ReplicaSet's unavailable pods so that a broken new template
// never eats into the old ReplicaSets' availability.
func (s *syncer) reconcileOldReplicaSets(allRSs, oldRSs []*deploymentv1.ReplicaSet, newRS *deploymentv1.ReplicaSet) bool {
	if sumSpecReplicas(oldRSs) == 0 {
		return false
	}
	allPodsCount := sumSpecReplicas(allRSs)
	maxUnavailable := s.p.maxUnavailableOf()
	minAvailable := s.p.replicas - maxUnavailable
	newRSUnavailablePodCount := specReplicas(newRS) - newRS.GetStatus().GetAvailableReplicas()
	maxScaledDown := allPodsCount - minAvailable - newRSUnavailablePodCount
	if maxScaledDown <= 0 {
		return false
	}
	oldRSs, cleanupCount, ok := s.cleanupUnhealthyReplicas(oldRSs, maxScaledDown)
	if !ok {
		return false
	}
	allRSs = append(slices.Clone(oldRSs), newRS)
	scaledDownCount := s.scaleDownOldReplicaSetsForRollingUpdate(allRSs, oldRSs, maxUnavailable)
	return cleanupCount+scaledDownCount > 0
}

// cleanupUnhealthyReplicas scales old ReplicaSets (oldest first) down by their
// unavailable replicas, at most maxCleanupCount in total; the ReplicaSet
// controller deletes not-ready pods first, so availability does not drop.
// Like Kubernetes it gives up (ok=false) when a ReplicaSet reports more
// available replicas than it should have (its pods are still going away).
func (s *syncer) cleanupUnhealthyReplicas(oldRSs []*deploymentv1.ReplicaSet, maxCleanupCount int32) ([]*deploymentv1.ReplicaSet, int32, bool) {
	oldRSs = slices.Clone(oldRSs)
	slices.SortFunc(oldRSs, cmpCreated)
	total := int32(0)
	for _, rs := range oldRSs {
		if total >= maxCleanupCount {
			break
		}
		replicas := specReplicas(rs)
		available := rs.GetStatus().GetAvailableReplicas()
		if replicas == 0 || replicas == available {
			continue
		}
		scaledDown := min(maxCleanupCount-total, replicas-available)
		newReplicas := replicas - scaledDown
		if newReplicas > replicas {
			return nil, 0, false
		}
		s.scaleReplicaSetAndRecordEvent(rs, newReplicas)
		total += scaledDown
	}
	return oldRSs, total, true
}

// scaleDownOldReplicaSetsForRollingUpdate scales old ReplicaSets (oldest
// first) down by as many replicas as are available above replicas-maxUnavailable.
func (s *syncer) scaleDownOldReplicaSetsForRollingUpdate(allRSs, oldRSs []*deploymentv1.ReplicaSet, maxUnavailable int32) int32 {
	minAvailable := s.p.replicas - maxUnavailable
	available := sumStatus(allRSs, statusAvailable)
	if available <= minAvailable {
		return 0
	}
	oldRSs = slices.Clone(oldRSs)
	slices.SortFunc(oldRSs, cmpCreated)
	total := int32(0)
	toScaleDown := available - minAvailable
	for _, rs := range oldRSs {
		if total >= toScaleDown {
			break
		}
		replicas := specReplicas(rs)
		if replicas == 0 {
			continue
		}
		scaleDown := min(replicas, toScaleDown-total)
		s.scaleReplicaSetAndRecordEvent(rs, replicas-scaleDown)
		total += scaleDown
	}
	return total
}
