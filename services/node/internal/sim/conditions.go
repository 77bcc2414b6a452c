package sim

import (
	"fmt"
	"strings"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/shared/podutil"
)

// syncConditions derives the kubelet's conditions from the container statuses.
func (s *step) syncConditions() {
	st := s.pod.Status
	if len(st.ContainerStatuses) == 0 {
		return
	}
	started := !anyWaiting(st.ContainerStatuses, ReasonContainerCreating)
	if started {
		podstatus.SetCondition(st, podutil.PodReadyToStartContainers, "True", "", "", s.now)
	} else {
		podstatus.SetCondition(st, podutil.PodReadyToStartContainers, "False", "", "", s.now)
	}
	var incomplete []string
	for _, cs := range st.InitContainerStatuses {
		if t := cs.GetState().GetTerminated(); t == nil || t.GetExitCode() != 0 {
			incomplete = append(incomplete, cs.GetName())
		}
	}
	if len(incomplete) == 0 {
		podstatus.SetCondition(st, podutil.PodInitialized, "True", "", "", s.now)
	} else {
		podstatus.SetCondition(st, podutil.PodInitialized, "False", "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " ")), s.now)
	}
	var unready []string
	for _, cs := range st.ContainerStatuses {
		if !cs.GetReady() {
			unready = append(unready, cs.GetName())
		}
	}
	switch {
	case st.Phase == podutil.PodSucceeded:
		podstatus.SetCondition(st, podutil.PodReady, "False", "PodCompleted", "", s.now)
		podstatus.SetCondition(st, podutil.ContainersReady, "False", "PodCompleted", "", s.now)
	case len(unready) > 0:
		msg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
		podstatus.SetCondition(st, podutil.PodReady, "False", "ContainersNotReady", msg, s.now)
		podstatus.SetCondition(st, podutil.ContainersReady, "False", "ContainersNotReady", msg, s.now)
	default:
		podstatus.SetCondition(st, podutil.PodReady, "True", "", "", s.now)
		podstatus.SetCondition(st, podutil.ContainersReady, "True", "", "", s.now)
	}
}
