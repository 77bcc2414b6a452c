package server

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// listPodsSelected is crud.Resource.List for pods with the label selector's
// equality requirements pushed down to SQL (jsonb containment), so a
// `-l app=x` list (every HPA sync does one) does not decode the whole namespace.
// The full selectors are still applied to what the query returns.
func (s *PodServer) listPodsSelected(ctx context.Context, ns, labelSelector, fieldSelector string) ([]*corev1.Pod, string, error) {
	match, err := s.R.Matcher(ns, labelSelector, fieldSelector)
	if err != nil {
		return nil, "", err
	}
	sel, err := labels.Parse(labelSelector)
	if err != nil {
		return nil, "", apierr.BadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	var items []*corev1.Pod
	var rv int64
	err = pgx.BeginTxFunc(ctx, s.Deps.DB.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if rv, err = store.CurrentRV(ctx, tx); err != nil {
			return err
		}
		items, err = repo.Pods.List(ctx, tx, store.ListOptions{Namespace: ns, Labels: equalityLabels(sel)})
		return err
	})
	if err != nil {
		return nil, "", apierr.Internal(err)
	}
	out := items[:0]
	for _, p := range items {
		if match(p) {
			p.ApiVersion, p.Kind = "v1", "Pod"
			out = append(out, p)
		}
	}
	return out, fmt.Sprint(rv), nil
}

// equalityLabels returns the key=value requirements of sel (nil when none).
func equalityLabels(sel k8slabels.Selector) map[string]string {
	reqs, _ := sel.Requirements()
	var out map[string]string
	for _, r := range reqs {
		op := r.Operator()
		if (op == selection.Equals || op == selection.DoubleEquals || op == selection.In) && r.Values().Len() == 1 {
			if out == nil {
				out = map[string]string{}
			}
			out[r.Key()] = r.Values().List()[0]
		}
	}
	return out
}
