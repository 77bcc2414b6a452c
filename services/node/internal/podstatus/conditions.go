package podstatus

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// conditionOrder is the order the kubelet writes a pod's conditions in.
var conditionOrder = []string{podutil.PodReadyToStartContainers, podutil.PodInitialized, podutil.PodReady, podutil.ContainersReady, podutil.PodScheduled}

// SetCondition sets a condition of st, moving lastTransitionTime only when the
// status changes, and keeps the kubelet's order (the kubelet's conditions, the
// scheduler's PodScheduled).
func SetCondition(st *corev1.PodStatus, typ, status, reason, message string, now time.Time) {
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
