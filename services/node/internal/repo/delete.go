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
	grace := podstatus.GracePeriod(p, requested)
	if grace == 0 {
		if p.GetMetadata().GetDeletionTimestamp() == nil {
			podstatus.MarkDeleted(p, 0, now)
		}
		gone, err := DeletePod(ctx, tx, now, p, nil)
		return gone, true, err
	}
	first := p.GetMetadata().GetDeletionTimestamp() == nil
	if !podstatus.MarkDeleted(p, grace, now) {
		return p, false, nil
	}
	var evs []Event
	if first {
		evs = podstatus.KillingEvents(p)
	}
	updated, err := UpdatePod(ctx, tx, now, p, OwnerKind(p), evs)
	return updated, false, err
}
