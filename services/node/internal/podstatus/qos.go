package podstatus

import (
	"github.com/podwarden/podwarden/shared/defaults"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// QOSClass is Kubernetes' GetPodQOS over cpu and memory: Guaranteed when
// every container limits both and requests equal limits, BestEffort when no
// container requests or limits anything, Burstable otherwise.
func QOSClass(p *corev1.Pod) string {
	all := append(append([]*corev1.Container(nil), p.GetSpec().GetInitContainers()...), p.GetSpec().GetContainers()...)
	any, guaranteed := false, true
	for _, c := range all {
		req, lim := c.GetResources().GetRequests(), c.GetResources().GetLimits()
		for _, r := range []string{"cpu", "memory"} {
			rq, hasReq := req[r]
			lq, hasLim := lim[r]
			if hasReq || hasLim {
				any = true
			}
			if !hasLim {
				guaranteed = false
				continue
			}
			if hasReq {
				a, errA := defaults.Quantity(rq)
				b, errB := defaults.Quantity(lq)
				if errA != nil || errB != nil || a.Cmp(b) != 0 {
					guaranteed = false
				}
			}
		}
	}
	switch {
	case !any:
		return "BestEffort"
	case guaranteed:
		return "Guaranteed"
	default:
		return "Burstable"
	}
}
