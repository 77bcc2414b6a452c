package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/services/node/internal/quota"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// ResourceQuotas and LimitRanges are core/v1's, kept with the pods they limit.
var (
	ResourceQuotas = store.Kind[*corev1.ResourceQuota]{Name: "ResourceQuota", Watch: true,
		New: func() *corev1.ResourceQuota { return &corev1.ResourceQuota{} }}
	LimitRanges = store.Kind[*corev1.LimitRange]{Name: "LimitRange", Watch: true,
		New: func() *corev1.LimitRange { return &corev1.LimitRange{} }}
)

// LoadAdmission reads a namespace's admission state in tx: its LimitRanges and
// its ResourceQuotas, the quotas' rows locked until tx ends, and, when there are
// quotas, its pods and services (read after the lock: every pod admitted by a transaction that
// held it before has committed, so two creates never both take the last slot).
func LoadAdmission(ctx context.Context, tx pgx.Tx, namespace string, now time.Time) (*quota.Namespace, error) {
	ranges, err := LimitRanges.List(ctx, tx, store.ListOptions{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	quotas, err := ResourceQuotas.List(ctx, tx, store.ListOptions{Namespace: namespace, ForUpdate: true})
	if err != nil {
		return nil, err
	}
	var (
		pods     []*corev1.Pod
		services []*nodev1.Service
	)
	if len(quotas) > 0 {
		if pods, err = Pods.List(ctx, tx, store.ListOptions{Namespace: namespace}); err != nil {
			return nil, err
		}
		if services, err = Services.List(ctx, tx, store.ListOptions{Namespace: namespace}); err != nil {
			return nil, err
		}
	}
	return quota.NewNamespace(ranges, quotas, pods, services, now), nil
}

// WriteQuotaStatuses stores the quotas whose status changed (their rows are
// locked by LoadAdmission).
func WriteQuotaStatuses(ctx context.Context, tx pgx.Tx, n *quota.Namespace) error {
	for _, rq := range n.Statuses() {
		if _, err := ResourceQuotas.Update(ctx, tx, rq); err != nil {
			return fmt.Errorf("write status of resourcequota %s: %w", Key(rq.GetMetadata()), err)
		}
	}
	return nil
}

// PublishRefused reports a commanded pod that admission refused to its owner: a
// DELETED event carrying why (create_refused), and a tombstone, so a repeated
// command for its uid is not admitted later.
func PublishRefused(ctx context.Context, tx pgx.Tx, p *corev1.Pod, why string) error {
	rv, err := nextRV(ctx, tx)
	if err != nil {
		return err
	}
	p.Metadata.ResourceVersion = fmt.Sprint(rv)
	if err := Tombstone(ctx, tx, p.GetMetadata().GetUid()); err != nil {
		return err
	}
	m := podMessage(eventsv1.PodEvent_TYPE_DELETED, p, OwnerKind(p))
	m.Msg.(*eventsv1.PodEvent).CreateRefused = why
	return store.Enqueue(ctx, tx, m.Subject, m.MsgID, m.Msg)
}
