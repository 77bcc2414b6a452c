package reconcile

import (
	"fmt"
	"time"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// syncRolloutStatus is Kubernetes' syncRolloutStatus: the new status plus the
// Progressing condition (NewReplicaSetAvailable when complete,
// ReplicaSetUpdated on progress, ProgressDeadlineExceeded past the deadline)
// and the ReplicaSets' ReplicaFailure condition.
func (s *syncer) syncRolloutStatus(allRSs []*deploymentv1.ReplicaSet, newRS *deploymentv1.ReplicaSet) {
	newStatus := s.calculateStatus(allRSs, newRS)
	if s.p.progressDeadline == nil {
		removeCondition(newStatus, DeploymentProgressing)
	}

	currentCond := getCondition(s.d.Status, DeploymentProgressing)
	isCompleteDeployment := newStatus.GetReplicas() == newStatus.GetUpdatedReplicas() &&
		currentCond != nil && currentCond.GetReason() == NewRSAvailableReason
	if s.p.progressDeadline != nil && !isCompleteDeployment {
		subject := fmt.Sprintf("Deployment %q", s.d.GetMetadata().GetName())
		if newRS != nil {
			subject = fmt.Sprintf("ReplicaSet %q", newRS.GetMetadata().GetName())
		}
		switch {
		case s.deploymentComplete(newStatus):
			setCondition(newStatus, s.newCondition(DeploymentProgressing, ConditionTrue, NewRSAvailableReason, subject+" has successfully progressed."))
		case s.deploymentProgressing(newStatus):
			// Progress refreshes lastUpdateTime even when the reason is the
			// same, which setCondition alone would not do.
			cond := s.newCondition(DeploymentProgressing, ConditionTrue, ReplicaSetUpdatedReason, subject+" is progressing.")
			if currentCond != nil {
				if currentCond.GetStatus() == ConditionTrue {
					cond.LastTransitionTime = currentCond.GetLastTransitionTime()
				}
				removeCondition(newStatus, DeploymentProgressing)
			}
			setCondition(newStatus, cond)
		case s.deploymentTimedOut(newStatus):
			setCondition(newStatus, s.newCondition(DeploymentProgressing, ConditionFalse, TimedOutReason, subject+" has timed out progressing."))
		}
	}

	if failures := replicaFailures(allRSs, newRS); len(failures) > 0 {
		setCondition(newStatus, failures[0])
	} else {
		removeCondition(newStatus, DeploymentReplicaFailure)
	}
	s.d.Status = newStatus
}

// deploymentProgressing reports progress since the stored status: more
// updated, ready or available replicas, or fewer old ones.
func (s *syncer) deploymentProgressing(newStatus *deploymentv1.DeploymentStatus) bool {
	old := s.d.Status
	oldOld := old.GetReplicas() - old.GetUpdatedReplicas()
	newOld := newStatus.GetReplicas() - newStatus.GetUpdatedReplicas()
	return newStatus.GetUpdatedReplicas() > old.GetUpdatedReplicas() ||
		newOld < oldOld ||
		newStatus.GetReadyReplicas() > old.GetReadyReplicas() ||
		newStatus.GetAvailableReplicas() > old.GetAvailableReplicas()
}

// deploymentTimedOut reports whether progressDeadlineSeconds have passed since
// the Progressing condition's lastUpdateTime (the last progress seen).
func (s *syncer) deploymentTimedOut(newStatus *deploymentv1.DeploymentStatus) bool {
	if s.p.progressDeadline == nil {
		return false
	}
	cond := getCondition(newStatus, DeploymentProgressing)
	if cond == nil {
		return false
	}
	switch cond.GetReason() {
	case NewRSAvailableReason:
		return false
	case TimedOutReason:
		return true
	}
	if cond.GetLastUpdateTime() == nil {
		return false
	}
	deadline := cond.GetLastUpdateTime().AsTime().Add(time.Duration(*s.p.progressDeadline) * time.Second)
	return deadline.Before(s.now)
}

// replicaFailures lifts ReplicaFailure conditions from the new ReplicaSet,
// else from any ReplicaSet, into Deployment conditions.
func replicaFailures(allRSs []*deploymentv1.ReplicaSet, newRS *deploymentv1.ReplicaSet) []*corev1.Condition {
	var out []*corev1.Condition
	collect := func(rs *deploymentv1.ReplicaSet) {
		for _, c := range rs.GetStatus().GetConditions() {
			if c.GetType() != DeploymentReplicaFailure {
				continue
			}
			out = append(out, &corev1.Condition{
				Type:               c.GetType(),
				Status:             c.GetStatus(),
				LastTransitionTime: c.GetLastTransitionTime(),
				LastUpdateTime:     c.GetLastTransitionTime(),
				Reason:             c.GetReason(),
				Message:            c.GetMessage(),
			})
		}
	}
	if newRS != nil {
		collect(newRS)
	}
	if len(out) > 0 {
		return out
	}
	for _, rs := range allRSs {
		if rs != nil {
			collect(rs)
		}
	}
	return out
}

// requeue is when the plan wants another look even if nothing changes: the
// earliest pod that turns available (minReadySeconds), and the progress
// deadline check of a rollout that has neither completed nor timed out
// (Kubernetes' requeueStuckDeployment, one second late to avoid skew; not
// after NewReplicaSetAvailable, which can never turn into a timeout).
func (s *syncer) requeue() time.Duration {
	var next time.Duration
	consider := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	for _, rs := range s.rsList {
		minReady := rs.GetSpec().GetMinReadySeconds()
		if minReady <= 0 {
			continue
		}
		for _, pod := range s.podsOf[rs] {
			if !podutil.IsPodActive(pod) {
				continue
			}
			if at, ok := podutil.PodAvailableAt(pod, minReady); ok && at.After(s.now) {
				consider(at.Sub(s.now))
			}
		}
	}
	if s.p.progressDeadline != nil && !s.p.paused {
		cond := getCondition(s.d.Status, DeploymentProgressing)
		if cond != nil && cond.GetLastUpdateTime() != nil && !s.deploymentComplete(s.d.Status) &&
			cond.GetReason() != TimedOutReason && cond.GetReason() != PausedDeployReason &&
			cond.GetReason() != NewRSAvailableReason {
			after := cond.GetLastUpdateTime().AsTime().Add(time.Duration(*s.p.progressDeadline) * time.Second).Sub(s.now)
			consider(max(after, 0) + time.Second)
		}
	}
	return next
}
