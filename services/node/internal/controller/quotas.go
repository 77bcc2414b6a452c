package controller

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/store"
)

// syncQuotas is the resource quota controller for one namespace: the quotas'
// status.hard follows spec.hard and status.used what the namespace's pods use,
// recomputed from the stored pods under the quotas' row locks (those pod
// admission takes), so it never races a create.
func (c *Controllers) syncQuotas(ctx context.Context, namespace string) error {
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		n, err := repo.LoadAdmission(ctx, tx, namespace, c.clock.Now())
		if err != nil {
			return err
		}
		return repo.WriteQuotaStatuses(ctx, tx, n)
	})
}

// listQuotaNamespaces lists the namespaces that have quotas (the resync's keys).
func (c *Controllers) listQuotaNamespaces(ctx context.Context) ([]string, error) {
	keys, err := repo.ResourceQuotas.Keys(ctx, c.db.Pool)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		ns, _, _ := strings.Cut(k, "/")
		if !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out, nil
}

// quotaPodChanged wakes the quota controller of a pod's (or a service's)
// namespace when it has quotas.
func (c *Controllers) quotaPodChanged(namespace string) {
	if c.caches.Quotas == nil {
		return
	}
	if len(c.caches.Quotas.Select(store.ListOptions{Namespace: namespace})) > 0 {
		c.quotas.Enqueue(namespace)
	}
}
