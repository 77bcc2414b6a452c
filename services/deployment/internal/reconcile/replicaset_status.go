package reconcile

import (
	"errors"
	"time"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/labels"
)

// ReplicaSet condition type and reasons (apps/v1 ReplicaSetReplicaFailure;
// ReplicationController uses the same).
const (
	ReplicaSetReplicaFailure = "ReplicaFailure"
	ReasonFailedCreate       = "FailedCreate"
	ReasonFailedDelete       = "FailedDelete"
)

// CalculateReplicaSetStatus is Kubernetes' calculateStatus for rs: pods are
// the pods rs controls (inactive ones are skipped; terminating ones are
// counted in terminatingReplicas) and manageErr the error of the last
// create/delete attempt (nil clears ReplicaFailure). observedGeneration is
// set to rs's generation.
func CalculateReplicaSetStatus(rs *deploymentv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) *deploymentv1.ReplicaSetStatus {
	active, terminating := splitReplicaPods(pods)
	return calculateReplicaStatus(replicaSetOwner(rs), active, terminating, manageErr, now)
}

// CalculateReplicationControllerStatus is CalculateReplicaSetStatus for rc.
func CalculateReplicationControllerStatus(rc *deploymentv1.ReplicationController, pods []*corev1.Pod, manageErr error, now time.Time) *deploymentv1.ReplicaSetStatus {
	active, terminating := splitReplicaPods(pods)
	return calculateReplicaStatus(replicationControllerOwner(rc), active, terminating, manageErr, now)
}

// splitReplicaPods separates the active pods from the terminating ones;
// Succeeded and Failed pods are in neither.
func splitReplicaPods(pods []*corev1.Pod) (active, terminating []*corev1.Pod) {
	for _, pod := range pods {
		switch {
		case podutil.IsPodActive(pod):
			active = append(active, pod)
		case podutil.IsPodTerminating(pod):
			terminating = append(terminating, pod)
		}
	}
	return active, terminating
}

func calculateReplicaStatus(o replicaOwner, active, terminating []*corev1.Pod, manageErr error, now time.Time) *deploymentv1.ReplicaSetStatus {
	status := &deploymentv1.ReplicaSetStatus{}
	if o.status != nil {
		status = proto.Clone(o.status).(*deploymentv1.ReplicaSetStatus)
	}

	// Pods whose labels hold every template label (and maybe more).
	templateLabels := labels.SelectorFromSet(o.template.GetMetadata().GetLabels())
	var fullyLabeled, ready, available int32
	for _, pod := range active {
		if templateLabels.Matches(labels.Set(pod.GetMetadata().GetLabels())) {
			fullyLabeled++
		}
		if podutil.IsPodReady(pod) {
			ready++
			if podutil.IsPodAvailable(pod, o.minReadySeconds, now) {
				available++
			}
		}
	}

	failure := replicaCondition(status.GetConditions(), ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		var reason string
		if diff := len(active) - int(o.replicas); diff < 0 || errors.As(manageErr, new(createError)) {
			reason = ReasonFailedCreate
		} else if diff > 0 {
			reason = ReasonFailedDelete
		}
		status.Conditions = append(status.Conditions, &corev1.Condition{
			Type:               ReplicaSetReplicaFailure,
			Status:             "True",
			LastTransitionTime: timestamppb.New(now),
			Reason:             reason,
			Message:            manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		status.Conditions = withoutReplicaCondition(status.Conditions, ReplicaSetReplicaFailure)
	}

	replicas := int32(len(active))
	terminatingReplicas := int32(len(terminating))
	status.Replicas = &replicas
	status.FullyLabeledReplicas = fullyLabeled
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	status.TerminatingReplicas = &terminatingReplicas
	status.ObservedGeneration = o.meta.GetGeneration()
	return status
}

// replicaCondition returns the condition of type t, or nil.
func replicaCondition(conds []*corev1.Condition, t string) *corev1.Condition {
	for _, c := range conds {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

// withoutReplicaCondition returns conds without those of type t.
func withoutReplicaCondition(conds []*corev1.Condition, t string) []*corev1.Condition {
	var out []*corev1.Condition
	for _, c := range conds {
		if c.GetType() != t {
			out = append(out, c)
		}
	}
	return out
}
