package podstatus

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// DefaultGracePeriodSeconds is the grace of a pod without terminationGracePeriodSeconds.
const DefaultGracePeriodSeconds = int64(30)

// GracePeriod is the grace period of a deletion: the requested one, else the
// pod's terminationGracePeriodSeconds, else 30. As the API server does, an
// unscheduled or terminal pod is deleted at once (0).
func GracePeriod(p *corev1.Pod, requested *int64) int64 {
	if p.GetSpec().GetNodeName() == "" || podutil.IsPodTerminal(p) {
		return 0
	}
	if requested != nil {
		return max(*requested, 0)
	}
	if g := p.GetSpec().TerminationGracePeriodSeconds; g != nil {
		return max(*g, 0)
	}
	return DefaultGracePeriodSeconds
}

// MarkDeleted sets deletionTimestamp (now + grace) and
// deletionGracePeriodSeconds. A second deletion may only shorten the grace
// period, as in Kubernetes. It reports whether the pod changed.
func MarkDeleted(p *corev1.Pod, grace int64, now time.Time) bool {
	m := p.GetMetadata()
	at := now.Add(time.Duration(grace) * time.Second)
	if m.DeletionTimestamp != nil {
		if m.DeletionGracePeriodSeconds != nil && *m.DeletionGracePeriodSeconds <= grace {
			return false
		}
		if old := m.DeletionTimestamp.AsTime(); old.Before(at) {
			at = old
		}
	}
	m.DeletionTimestamp = timestamppb.New(at)
	m.DeletionGracePeriodSeconds = &grace
	return true
}

// KillingEvents are the kubelet's "Stopping container" events of a deletion.
func KillingEvents(p *corev1.Pod) []Event {
	var out []Event
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if cs.GetState().GetRunning() == nil && cs.GetState().GetWaiting() == nil {
			continue
		}
		out = append(out, Event{
			Type: EventNormal, Reason: "Killing", Message: "Stopping container " + cs.GetName(),
			FieldPath: fmt.Sprintf("spec.containers{%s}", cs.GetName()),
		})
	}
	return out
}
