package controller

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// collectGarbage deletes what a Background deletion or the retention policy left
// behind, in the scope of the keys waiting together: revisions and pods whose
// StatefulSet is gone, claims whose every owner is gone. A repair key also resends
// lost pod commands and trims tombstones.
func (c *Controller) collectGarbage(ctx context.Context, s apply.GCScope) error {
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		now := c.clock.Now()
		if s.Repair {
			if err := apply.RepairPods(ctx, tx, now, c.view, c.caches.Pods); err != nil {
				return err
			}
		}
		if _, err := apply.CollectGarbage(ctx, tx, now, kinds.ControllerRevisions, s); err != nil {
			return err
		}
		if err := apply.CollectPods(ctx, tx, now, s); err != nil {
			return err
		}
		return c.collectClaims(ctx, tx, s)
	})
}

// collectClaims deletes the claims in scope (all, or those naming one of its owners)
// that have owners (the retention policy's StatefulSet or pod) none of which exists
// any more, like Kubernetes' garbage collector. Claims without owners are never
// collected. The candidates come from the caches (nothing listed or decoded); each is
// checked in Postgres before it goes.
func (c *Controller) collectClaims(ctx context.Context, tx pgx.Tx, s apply.GCScope) error {
	if !s.Collects() {
		return nil
	}
	for _, l := range []apply.Loader{c.caches.Claims, c.caches.StatefulSets, c.caches.Pods} {
		if err := l.Synced(ctx); err != nil {
			return err
		}
	}
	for _, cl := range c.caches.Claims.Select(store.ListOptions{}) {
		refs := cl.GetMetadata().GetOwnerReferences()
		if !s.All && !slices.ContainsFunc(refs, func(r *corev1.OwnerReference) bool { return slices.Contains(s.Owners, r.GetUid()) }) {
			continue
		}
		if len(refs) == 0 || cl.GetMetadata().GetDeletionTimestamp() != nil || c.anyOwnerCached(cl.GetMetadata()) {
			continue
		}
		uids := make([]string, 0, len(refs))
		for _, r := range refs {
			uids = append(uids, r.GetUid())
		}
		var live bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM objects WHERE uid = ANY($1))", uids).Scan(&live); err != nil {
			return err
		}
		if live {
			continue
		}
		if _, err := kinds.Claims.Delete(ctx, tx, cl.Metadata.Namespace, cl.Metadata.Name, cl.Metadata.Uid); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// anyOwnerCached reports whether one of the claim's owners (a StatefulSet or a pod)
// is in the caches with its uid.
func (c *Controller) anyOwnerCached(m *corev1.ObjectMeta) bool {
	for _, r := range m.GetOwnerReferences() {
		var got interface{ GetMetadata() *corev1.ObjectMeta }
		var ok bool
		switch r.GetKind() {
		case "StatefulSet":
			got, ok = c.caches.StatefulSets.Get(m.GetNamespace(), r.GetName())
		case "Pod":
			got, ok = c.caches.Pods.Get(m.GetNamespace(), r.GetName())
		}
		if ok && got.GetMetadata().GetUid() == r.GetUid() {
			return true
		}
	}
	return false
}
