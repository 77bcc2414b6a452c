package reconcile

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// syncDeploymentStatus recomputes the status without estimating progress
// (paused Deployments, scaling events, deleting Deployments).
func (s *syncer) syncDeploymentStatus(allRSs []*deploymentv1.ReplicaSet, newRS *deploymentv1.ReplicaSet) {
	s.d.Status = s.calculateStatus(allRSs, newRS)
}

// calculateStatus is Kubernetes' calculateStatus: counts summed over the
// ReplicaSets, updatedReplicas from the new one, the stored conditions, and
// Available=True once availableReplicas >= replicas - maxUnavailable.
func (s *syncer) calculateStatus(allRSs []*deploymentv1.ReplicaSet, newRS *deploymentv1.ReplicaSet) *deploymentv1.DeploymentStatus {
	available := sumStatus(allRSs, statusAvailable)
	unavailable := max(sumSpecReplicas(allRSs)-available, 0)
	status := &deploymentv1.DeploymentStatus{
		ObservedGeneration:  s.d.GetMetadata().GetGeneration(),
		Replicas:            sumStatus(allRSs, statusReplicas),
		UpdatedReplicas:     sumStatus([]*deploymentv1.ReplicaSet{newRS}, statusReplicas),
		ReadyReplicas:       sumStatus(allRSs, statusReady),
		AvailableReplicas:   available,
		UnavailableReplicas: unavailable,
		CollisionCount:      s.d.Status.CollisionCount,
		TerminatingReplicas: proto.Int32(sumStatus(allRSs, statusTerminating)),
	}
	for _, c := range s.d.Status.GetConditions() {
		status.Conditions = append(status.Conditions, proto.Clone(c).(*corev1.Condition))
	}
	if available >= s.p.replicas-s.p.maxUnavailableOf() {
		setCondition(status, s.newCondition(DeploymentAvailable, ConditionTrue, MinimumReplicasAvailable, "Deployment has minimum availability."))
	} else {
		setCondition(status, s.newCondition(DeploymentAvailable, ConditionFalse, MinimumReplicasUnavailable, "Deployment does not have minimum availability."))
	}
	return status
}

// deploymentComplete: every replica updated, available, and the spec observed.
func (s *syncer) deploymentComplete(status *deploymentv1.DeploymentStatus) bool {
	return status.GetUpdatedReplicas() == s.p.replicas &&
		status.GetReplicas() == s.p.replicas &&
		status.GetAvailableReplicas() == s.p.replicas &&
		status.GetObservedGeneration() >= s.d.GetMetadata().GetGeneration()
}

// newCondition builds a Deployment condition stamped at now (whole seconds,
// as Kubernetes stores it).
func (s *syncer) newCondition(condType, status, reason, message string) *corev1.Condition {
	ts := timestamppb.New(s.now.Truncate(time.Second))
	return &corev1.Condition{
		Type:               condType,
		Status:             status,
		LastUpdateTime:     ts,
		LastTransitionTime: proto.Clone(ts).(*timestamppb.Timestamp),
		Reason:             reason,
		Message:            message,
	}
}

// GetDeploymentCondition returns the condition of type condType, or nil.
func GetDeploymentCondition(status *deploymentv1.DeploymentStatus, condType string) *corev1.Condition {
	return getCondition(status, condType)
}

func getCondition(status *deploymentv1.DeploymentStatus, condType string) *corev1.Condition {
	for _, c := range status.GetConditions() {
		if c.GetType() == condType {
			return c
		}
	}
	return nil
}

// setCondition is Kubernetes' SetDeploymentCondition: no change when status
// and reason are the same; lastTransitionTime kept when only the reason
// changes; the condition moves to the end of the list.
func setCondition(status *deploymentv1.DeploymentStatus, c *corev1.Condition) {
	current := getCondition(status, c.GetType())
	if current != nil && current.GetStatus() == c.GetStatus() && current.GetReason() == c.GetReason() {
		return
	}
	if current != nil && current.GetStatus() == c.GetStatus() {
		c.LastTransitionTime = current.GetLastTransitionTime()
	}
	removeCondition(status, c.GetType())
	status.Conditions = append(status.Conditions, c)
}

// removeCondition drops every condition of type condType.
func removeCondition(status *deploymentv1.DeploymentStatus, condType string) {
	var kept []*corev1.Condition
	for _, c := range status.GetConditions() {
		if c.GetType() != condType {
			kept = append(kept, c)
		}
	}
	status.Conditions = kept
}
