package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Faults InjectPodFault accepts.
const (
	FaultCrash   = "crash"
	FaultFail    = "fail"
	FaultUnready = "unready"
	FaultReady   = "ready"
)

// ErrFault is wrapped by every error of ApplyFault (a bad request).
var ErrFault = errors.New("invalid fault")

// ApplyFault injects a fault into p (in place) at now:
//   - crash: every running container exits with exitCode (default 1); the
//     kubelet then restarts it per restartPolicy (restartCount++);
//   - fail: the pod goes Failed, its containers terminated with exitCode (default 1);
//   - unready: the readiness probe fails (Ready=False) until "ready".
//
// It returns the events to record.
func ApplyFault(p *corev1.Pod, fault string, exitCode int32, now time.Time) ([]podstatus.Event, error) {
	if exitCode == 0 && (fault == FaultCrash || fault == FaultFail) {
		exitCode = 1
	}
	switch fault {
	case FaultCrash:
		n := 0
		for _, cs := range p.GetStatus().GetContainerStatuses() {
			if cs.GetState().GetRunning() != nil {
				exit(cs, exitCode, now)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: pod %s has no running container to crash", ErrFault, p.GetMetadata().GetName())
		}
		return nil, nil
	case FaultFail:
		if podutil.IsPodTerminal(p) {
			return nil, fmt.Errorf("%w: pod %s has already terminated", ErrFault, p.GetMetadata().GetName())
		}
		if p.Status == nil {
			p.Status = &corev1.PodStatus{}
		}
		Fail(p, exitCode, now)
		for _, typ := range []string{podutil.PodReady, podutil.ContainersReady} {
			if _, c := podutil.GetPodCondition(p.Status, typ); c != nil {
				podstatus.SetCondition(p.Status, typ, "False", "PodFailed", "", now)
			}
		}
		return nil, nil
	case FaultUnready:
		if p.Metadata.Annotations == nil {
			p.Metadata.Annotations = map[string]string{}
		}
		p.Metadata.Annotations[AnnotationUnready] = "true"
		var out []podstatus.Event
		for _, cs := range p.GetStatus().GetContainerStatuses() {
			out = append(out, podstatus.Event{Type: podstatus.EventWarning, Reason: "Unhealthy", Message: "Readiness probe failed: injected fault",
				FieldPath: fmt.Sprintf("spec.containers{%s}", cs.GetName())})
		}
		return out, nil
	case FaultReady:
		delete(p.Metadata.Annotations, AnnotationUnready)
		return nil, nil
	default:
		return nil, fmt.Errorf("%w %q: want crash, fail, unready or ready", ErrFault, fault)
	}
}
