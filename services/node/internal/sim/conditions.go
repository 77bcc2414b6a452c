package sim

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Pod condition types, in the order the kubelet writes them.
const (
	CondPodReadyToStartContainers = "PodReadyToStartContainers"
	CondInitialized               = "Initialized"
	CondReady                     = "Ready"
	CondContainersReady           = "ContainersReady"
	CondPodScheduled              = "PodScheduled"
)

var conditionOrder = []string{CondPodReadyToStartContainers, CondInitialized, CondReady, CondContainersReady, CondPodScheduled}

// setCondition sets a condition, moving lastTransitionTime only when the status
// changes, and keeps the kubelet's order.
func setCondition(st *corev1.PodStatus, typ, status, reason, message string, now time.Time) {
	for _, c := range st.Conditions {
		if c.GetType() != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = timestamppb.New(now)
		}
		c.Status, c.Reason, c.Message = status, reason, message
		return
	}
	st.Conditions = append(st.Conditions, &corev1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: timestamppb.New(now),
	})
	sortConditions(st.Conditions)
}

func sortConditions(conds []*corev1.Condition) {
	rank := func(t string) int {
		for i, x := range conditionOrder {
			if x == t {
				return i
			}
		}
		return len(conditionOrder)
	}
	for i := 1; i < len(conds); i++ {
		for j := i; j > 0 && rank(conds[j].GetType()) < rank(conds[j-1].GetType()); j-- {
			conds[j], conds[j-1] = conds[j-1], conds[j]
		}
	}
}

// SetCondition is setCondition for callers outside the kubelet (the scheduler's PodScheduled).
func SetCondition(st *corev1.PodStatus, typ, status, reason, message string, now time.Time) {
	setCondition(st, typ, status, reason, message, now)
}

// GetCondition returns the condition of type typ, or nil.
func GetCondition(st *corev1.PodStatus, typ string) *corev1.Condition {
	for _, c := range st.GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// syncConditions derives the kubelet's conditions from the container statuses.
func (s *step) syncConditions() {
	st := s.pod.Status
	if len(st.ContainerStatuses) == 0 {
		return
	}
	started := !anyWaiting(st.ContainerStatuses, ReasonContainerCreating)
	if started {
		setCondition(st, CondPodReadyToStartContainers, "True", "", "", s.now)
	} else {
		setCondition(st, CondPodReadyToStartContainers, "False", "", "", s.now)
	}
	var incomplete []string
	for _, cs := range st.InitContainerStatuses {
		if t := cs.GetState().GetTerminated(); t == nil || t.GetExitCode() != 0 {
			incomplete = append(incomplete, cs.GetName())
		}
	}
	if len(incomplete) == 0 {
		setCondition(st, CondInitialized, "True", "", "", s.now)
	} else {
		setCondition(st, CondInitialized, "False", "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " ")), s.now)
	}
	var unready []string
	for _, cs := range st.ContainerStatuses {
		if !cs.GetReady() {
			unready = append(unready, cs.GetName())
		}
	}
	switch {
	case st.Phase == PhaseSucceeded:
		setCondition(st, CondReady, "False", "PodCompleted", "", s.now)
		setCondition(st, CondContainersReady, "False", "PodCompleted", "", s.now)
	case len(unready) > 0:
		msg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
		setCondition(st, CondReady, "False", "ContainersNotReady", msg, s.now)
		setCondition(st, CondContainersReady, "False", "ContainersNotReady", msg, s.now)
	default:
		setCondition(st, CondReady, "True", "", "", s.now)
		setCondition(st, CondContainersReady, "True", "", "", s.now)
	}
}
