package admission

import (
	"net"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// podPhases are the phases a status may carry.
var podPhases = []string{"Pending", "Running", "Succeeded", "Failed", "Unknown"}

// ValidateStatusUpdate is Kubernetes' ValidatePodStatusUpdate for a write of the
// status subresource (newPod is the stored pod with the new status): a known
// phase, a terminal pod stays terminal, the QoS class does not change, a
// terminated container that its restartPolicy does not restart stays terminated,
// and pod IPs are IPs.
func ValidateStatusUpdate(newPod, oldPod *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	st, old := newPod.GetStatus(), oldPod.GetStatus()
	statusPath := field.NewPath("status")
	if p := st.GetPhase(); p != "" && !contains(podPhases, p) {
		errs = append(errs, field.NotSupported(statusPath.Child("phase"), p, podPhases))
	}
	if podutil.IsPodTerminal(oldPod) && !podutil.IsPodTerminal(newPod) {
		errs = append(errs, field.Forbidden(statusPath.Child("phase"), "cannot transition from a terminal phase to a non-terminal phase"))
	}
	if q := old.GetQosClass(); q != "" && st.GetQosClass() != q {
		errs = append(errs, field.Invalid(statusPath.Child("qosClass"), st.GetQosClass(), "field is immutable"))
	}
	errs = append(errs, containerStateTransitions(st.GetContainerStatuses(), old.GetContainerStatuses(), statusPath.Child("containerStatuses"), oldPod.GetSpec().GetRestartPolicy())...)
	if ip := st.GetPodIp(); ip != "" && net.ParseIP(ip) == nil {
		errs = append(errs, field.Invalid(statusPath.Child("podIP"), ip, "must be a valid IP address"))
	}
	for i, pip := range st.GetPodIps() {
		if net.ParseIP(pip.GetIp()) == nil {
			errs = append(errs, field.Invalid(statusPath.Child("podIPs").Index(i).Child("ip"), pip.GetIp(), "must be a valid IP address"))
		}
	}
	return errs
}

// containerStateTransitions is ValidateContainerStateTransition: unless the
// pod restarts its containers (Always; OnFailure for a failed one), a
// terminated container may not be written back to another state.
func containerStateTransitions(newStatuses, oldStatuses []*corev1.ContainerStatus, fp *field.Path, restartPolicy string) field.ErrorList {
	if restartPolicy == "Always" || restartPolicy == "" {
		return nil
	}
	var errs field.ErrorList
	for i, o := range oldStatuses {
		t := o.GetState().GetTerminated()
		if t == nil || t.GetExitCode() != 0 && restartPolicy == "OnFailure" {
			continue
		}
		for _, n := range newStatuses {
			if n.GetName() == o.GetName() && n.GetState().GetTerminated() == nil {
				errs = append(errs, field.Forbidden(fp.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
