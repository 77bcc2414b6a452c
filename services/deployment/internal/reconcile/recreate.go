package reconcile

import (
	"slices"

	"github.com/podwarden/podwarden/shared/podutil"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// rolloutRecreate is Kubernetes' rolloutRecreate: scale every old ReplicaSet
// to 0, wait until no old pod is left (terminating ones included), and only
// then create or scale up the new ReplicaSet to spec.replicas.
func (s *syncer) rolloutRecreate() {
	// Do not create the new ReplicaSet yet: never scale up before scaling down.
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(false)
	if err != nil {
		return
	}
	allRSs := append(slices.Clone(oldRSs), newRS)

	if s.scaleDownOldReplicaSetsForRecreate(filterActive(oldRSs)) {
		s.syncRolloutStatus(allRSs, newRS)
		return
	}
	if s.oldPodsRunning(newRS, oldRSs) {
		s.syncRolloutStatus(allRSs, newRS)
		return
	}
	if newRS == nil {
		newRS, oldRSs, err = s.getAllReplicaSetsAndSyncRevision(true)
		if err != nil {
			return
		}
		allRSs = append(slices.Clone(oldRSs), newRS)
	}
	s.scaleReplicaSetAndRecordEvent(newRS, s.p.replicas)
	if s.deploymentComplete(s.d.Status) {
		s.cleanupDeployment(oldRSs)
	}
	s.syncRolloutStatus(allRSs, newRS)
}

// scaleDownOldReplicaSetsForRecreate scales every active old ReplicaSet to 0.
func (s *syncer) scaleDownOldReplicaSetsForRecreate(oldRSs []*deploymentv1.ReplicaSet) bool {
	scaled := false
	for _, rs := range oldRSs {
		if specReplicas(rs) == 0 {
			continue
		}
		if s.scaleReplicaSetAndRecordEvent(rs, 0) {
			scaled = true
		}
	}
	return scaled
}

// oldPodsRunning reports whether an old ReplicaSet still has active pods or
// any pod of an old ReplicaSet has not reached Succeeded or Failed (pods
// being deleted still count: they may still run).
func (s *syncer) oldPodsRunning(newRS *deploymentv1.ReplicaSet, oldRSs []*deploymentv1.ReplicaSet) bool {
	if sumStatus(oldRSs, statusReplicas) > 0 {
		return true
	}
	for _, pod := range s.pods {
		owner := s.ownerOf(pod)
		if owner == nil || owner == newRS {
			continue // not ours, or the new ReplicaSet's
		}
		switch pod.GetStatus().GetPhase() {
		case podutil.PodSucceeded, podutil.PodFailed:
			continue
		default:
			return true
		}
	}
	return false
}
