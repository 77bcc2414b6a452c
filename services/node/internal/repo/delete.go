package repo

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// GracefulDelete deletes a stored pod (locked by the caller) the way the API
// server does: with grace 0 (requested, or because the pod is unscheduled or
// terminal) the row goes now and DELETED is published; otherwise the pod gets
// deletionTimestamp and deletionGracePeriodSeconds and the kubelet finishes the
// job. requested nil means the pod's terminationGracePeriodSeconds. It returns
// the pod as it now is and whether it is gone.
func GracefulDelete(ctx context.Context, tx pgx.Tx, now time.Time, p *corev1.Pod, requested *int64) (*corev1.Pod, bool, error) {
	var w PodWrites
	gone := w.GracefulDelete(now, p, requested)
	return p, gone, w.Write(ctx, tx, now)
}

// GracefulDelete adds GracefulDelete's writes for p (stored, locked by the caller) to w:
// p is modified, and carries its new resourceVersion once w is written.
func (w *PodWrites) GracefulDelete(now time.Time, p *corev1.Pod, requested *int64) (gone bool) {
	grace := podstatus.GracePeriod(p, requested)
	if grace == 0 {
		if p.GetMetadata().GetDeletionTimestamp() == nil {
			podstatus.MarkDeleted(p, 0, now)
		}
		w.Delete(p, nil)
		return true
	}
	first := p.GetMetadata().GetDeletionTimestamp() == nil
	if !podstatus.MarkDeleted(p, grace, now) {
		return false
	}
	var evs []Event
	if first {
		evs = podstatus.KillingEvents(p)
	}
	w.Update(p, evs)
	return false
}
