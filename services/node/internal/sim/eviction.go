package sim

import (
	"fmt"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/shared/scheduling"
)

// evict is the taint manager: a NoExecute taint the pod does not tolerate marks
// it for deletion at once; a toleration with tolerationSeconds delays that
// (from the taint's timeAdded). It returns true when the pod was marked now.
func (s *step) evict() bool {
	var evictAt time.Time
	found := false
	for _, taint := range s.node.GetSpec().GetTaints() {
		if taint.GetEffect() != scheduling.EffectNoExecute {
			continue
		}
		forever, seconds, tolerated := false, int64(-1), false
		for _, t := range s.pod.GetSpec().GetTolerations() {
			if !scheduling.ToleratesTaint(t, taint) {
				continue
			}
			tolerated = true
			if t.TolerationSeconds == nil {
				forever = true
				break
			}
			if seconds < 0 || t.GetTolerationSeconds() < seconds {
				seconds = t.GetTolerationSeconds()
			}
		}
		if forever {
			continue
		}
		at := s.now
		if tolerated {
			added := s.scheduledAt()
			if taint.GetTimeAdded() != nil {
				added = taint.GetTimeAdded().AsTime()
			}
			at = added.Add(time.Duration(max(seconds, 0)) * time.Second)
		}
		if !found || at.Before(evictAt) {
			evictAt, found = at, true
		}
	}
	if !found {
		return false
	}
	if s.now.Before(evictAt) {
		s.at(evictAt)
		return false
	}
	podstatus.MarkDeleted(s.pod, podstatus.GracePeriod(s.pod, nil), s.now)
	s.events = append(s.events, podstatus.Event{
		Type: podstatus.EventNormal, Reason: "TaintManagerEviction", Component: "taint-eviction-controller",
		Message: fmt.Sprintf("Marking for deletion Pod %s/%s", s.pod.GetMetadata().GetNamespace(), s.pod.GetMetadata().GetName()),
	})
	return true
}
