// Package podutil holds Kubernetes' pod predicates and controller-ref helpers
// on podwarden's proto types, in one place: k8s.io/kubernetes/pkg/api/v1/pod
// (util.go), the pod helpers of pkg/controller/controller_utils.go and
// apimachinery's metav1 controller_ref.go. Pure functions; every controller and
// the node service use these instead of their own copies.
package podutil

import (
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Pod phases (core/v1 PodPhase).
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"
)

// Pod condition types (core/v1 PodConditionType).
const (
	PodReadyToStartContainers = "PodReadyToStartContainers"
	PodInitialized            = "Initialized"
	PodReady                  = "Ready"
	ContainersReady           = "ContainersReady"
	PodScheduled              = "PodScheduled"
)

// Condition statuses (core/v1 ConditionStatus).
const (
	ConditionTrue    = "True"
	ConditionFalse   = "False"
	ConditionUnknown = "Unknown"
)

// GetPodCondition returns the index and the condition of type conditionType in
// status, or -1 and nil when there is none.
func GetPodCondition(status *corev1.PodStatus, conditionType string) (int, *corev1.Condition) {
	for i, c := range status.GetConditions() {
		if c.GetType() == conditionType {
			return i, c
		}
	}
	return -1, nil
}

// GetPodReadyCondition returns the Ready condition of status, or nil.
func GetPodReadyCondition(status *corev1.PodStatus) *corev1.Condition {
	_, c := GetPodCondition(status, PodReady)
	return c
}

// IsPodReadyConditionTrue reports whether status has Ready=True.
func IsPodReadyConditionTrue(status *corev1.PodStatus) bool {
	c := GetPodReadyCondition(status)
	return c != nil && c.GetStatus() == ConditionTrue
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(pod *corev1.Pod) bool {
	return IsPodReadyConditionTrue(pod.GetStatus())
}

// IsPodAvailable reports whether the pod has been Ready for at least
// minReadySeconds at now, counted from the Ready condition's
// lastTransitionTime. With minReadySeconds 0 a Ready pod is available at once;
// with minReadySeconds > 0 a Ready condition without a lastTransitionTime never
// is. The pod is available from the instant Ready-since + minReadySeconds on
// (Kubernetes says strictly after it; our controllers requeue for exactly that
// instant, and all three former copies counted it as available).
func IsPodAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	at, ok := PodAvailableAt(pod, minReadySeconds)
	return ok && !now.Before(at)
}

// PodAvailableAt returns the instant a Ready pod becomes available (Ready
// since + minReadySeconds; the zero time when minReadySeconds is 0), and false
// when the pod is not Ready or, with minReadySeconds > 0, has no
// lastTransitionTime to count from. Controllers requeue for that instant.
func PodAvailableAt(pod *corev1.Pod, minReadySeconds int32) (time.Time, bool) {
	c := GetPodReadyCondition(pod.GetStatus())
	if c == nil || c.GetStatus() != ConditionTrue {
		return time.Time{}, false
	}
	if minReadySeconds <= 0 {
		return time.Time{}, true
	}
	since := c.GetLastTransitionTime()
	if since == nil {
		return time.Time{}, false
	}
	return since.AsTime().Add(time.Duration(minReadySeconds) * time.Second), true
}

// IsPodPhaseTerminal reports whether phase is Succeeded or Failed.
func IsPodPhaseTerminal(phase string) bool {
	return phase == PodSucceeded || phase == PodFailed
}

// IsPodTerminal reports a pod whose containers have all stopped for good:
// phase Succeeded or Failed.
func IsPodTerminal(pod *corev1.Pod) bool {
	return IsPodPhaseTerminal(pod.GetStatus().GetPhase())
}

// IsPodActive reports whether the pod still counts towards its controller:
// not terminal and not being deleted (controller.IsPodActive).
func IsPodActive(pod *corev1.Pod) bool {
	return !IsPodTerminal(pod) && pod.GetMetadata().GetDeletionTimestamp() == nil
}

// IsPodTerminating reports a pod with a deletionTimestamp that has not reached
// a terminal phase (controller.IsPodTerminating).
func IsPodTerminating(pod *corev1.Pod) bool {
	return !IsPodTerminal(pod) && pod.GetMetadata().GetDeletionTimestamp() != nil
}

// FilterActivePods returns the pods that are active (controller.FilterActivePods).
func FilterActivePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if IsPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// GetControllerOf returns the ownerReference with controller=true, or nil
// (metav1.GetControllerOf).
func GetControllerOf(meta *corev1.ObjectMeta) *corev1.OwnerReference {
	for _, ref := range meta.GetOwnerReferences() {
		if ref.GetController() {
			return ref
		}
	}
	return nil
}

// NewControllerRef is the ownerReference a controller puts on what it creates
// or adopts: controller and blockOwnerDeletion true (metav1.NewControllerRef).
func NewControllerRef(owner *corev1.ObjectMeta, apiVersion, kind string) *corev1.OwnerReference {
	yes := true
	return &corev1.OwnerReference{
		ApiVersion: apiVersion, Kind: kind, Name: owner.GetName(), Uid: owner.GetUid(),
		Controller: &yes, BlockOwnerDeletion: &yes,
	}
}

// IsControlledBy reports whether the object is controlled by owner: its
// controller ownerReference names owner's uid (metav1.IsControlledBy).
func IsControlledBy(meta, owner *corev1.ObjectMeta) bool {
	ref := GetControllerOf(meta)
	return ref != nil && ref.GetUid() == owner.GetUid()
}
