package quota

import (
	"fmt"
	"slices"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Namespace is one namespace's admission state in a transaction: its
// LimitRanges, its ResourceQuotas and what its stored pods use of them.
type Namespace struct {
	Ranges []*corev1.LimitRange
	Quotas []*Quota
	Now    time.Time
}

// NewNamespace charges the stored pods and services to the quotas.
func NewNamespace(ranges []*corev1.LimitRange, quotas []*corev1.ResourceQuota, pods []*corev1.Pod, services []*nodev1.Service, now time.Time) *Namespace {
	n := &Namespace{Ranges: ranges, Now: now}
	for _, rq := range quotas {
		n.Quotas = append(n.Quotas, NewQuota(rq))
	}
	if len(n.Quotas) > 0 {
		for _, p := range pods {
			ChargePod(n.Quotas, p, podstatus.QOSClass(p), now)
		}
		for _, s := range services {
			ChargeService(n.Quotas, s)
		}
	}
	return n
}

// Admit runs the LimitRanger (defaults into p, then its checks) and the quota
// admission on a new pod (defaulted, named): nil admits it and charges its usage
// to the quotas; otherwise the error is the refusal's reason, in Kubernetes'
// words, without the `pods "x" is forbidden: ` head (Refusal adds it).
func (n *Namespace) Admit(p *corev1.Pod) error {
	if len(n.Ranges) > 0 {
		if err := ApplyLimitRanges(n.Ranges, p); err != nil {
			return err
		}
		if p.Status != nil {
			p.Status.QosClass = podstatus.QOSClass(p)
		}
	}
	if len(n.Quotas) == 0 {
		return nil
	}
	return AdmitPod(n.Quotas, p, podstatus.QOSClass(p), n.Now)
}

// Refusal is the message of a refused pod as the apiserver words it.
func Refusal(podName string, err error) string {
	return fmt.Sprintf("pods %q is forbidden: %v", podName, err)
}

// Statuses are the quotas whose status must be written: status.hard is spec.hard
// and status.used what the namespace uses (of the resources counted here).
func (n *Namespace) Statuses() []*corev1.ResourceQuota {
	var out []*corev1.ResourceQuota
	for _, q := range n.Quotas {
		hard, used := q.Status(Counts)
		st := q.Object.GetStatus()
		if Equals(FromProto(st.GetHard()), hard) && Equals(FromProto(st.GetUsed()), used) {
			continue
		}
		q.Object.Status = &corev1.ResourceQuotaStatus{Hard: ToProto(hard), Used: ToProto(used)}
		out = append(out, q.Object)
	}
	return out
}

// Counts reports whether the node service keeps the usage of a quota's resource:
// what pods and services are charged in. Object counts of other services' kinds
// are not kept.
func Counts(name string) bool { return isPodResource(name) || slices.Contains(serviceResources, name) }
