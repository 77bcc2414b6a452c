package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/services/statefulset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/store"
)

// binderComponent is the source of the binder's events (kube-controller-manager's
// PersistentVolume controller).
const binderComponent = "persistentvolume-controller"

// syncBinder is the PersistentVolume controller: a pending claim gets a volume (a
// matching free one, or one provisioned for it by its class) and both are Bound in
// one transaction, with the events of reconcile.Bind; on volumesKey, volumes whose
// claim is gone are reclaimed.
func (c *Controller) syncBinder(ctx context.Context, key string) error {
	if key == volumesKey {
		return c.reclaim(ctx)
	}
	ns, name := splitKey(key)
	// Most wake-ups are about claims already bound (or gone): settle those from the
	// claim cache (woken by its change, it holds the change), without a query. A
	// binding reads and locks in Postgres: two claims must never take one volume.
	if err := c.caches.Claims.Synced(ctx); err != nil {
		return err
	}
	claim, ok := c.caches.Claims.Get(ns, name)
	if !ok || reconcile.Settled(claim) {
		return nil
	}
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		claim, err := kinds.Claims.GetForUpdate(ctx, tx, ns, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		// Every binding takes the binder's lock, so two claims never take the same free
		// volume: the volumes and classes come from the caches, and a volume the
		// binding changes carries its cached resourceVersion, so a cache that has not
		// seen the last binding yet ends in a conflict and a retry, never in two claims
		// on one volume. A binding costs the claim, not every volume decoded.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('persistentvolume-binder'))"); err != nil {
			return err
		}
		if err := c.caches.Volumes.Synced(ctx); err != nil {
			return err
		}
		if err := c.caches.Classes.Synced(ctx); err != nil {
			return err
		}
		volumes := c.caches.Volumes.Select(store.ListOptions{}) // Bind modifies copies only
		classes := c.caches.Classes.Select(store.ListOptions{})
		in := reconcile.Claim{Classes: classes}
		if reconcile.ClaimWaitsForConsumer(claim, classes) { // the namespace's pods only then
			in.ConsumerNode = reconcile.ConsumerNode(claim, c.caches.Pods.Select(store.ListOptions{Namespace: ns}))
		}
		now := c.clock.Now()
		b, ok := reconcile.Bind(claim, volumes, in, now)
		if !ok {
			return nil
		}
		ref := events.Ref("v1", "PersistentVolumeClaim", claim.GetMetadata())
		for _, e := range b.Events {
			if err := events.Record(ctx, tx, now, binderComponent, ref, e.Type, e.Reason, e.Message); err != nil {
				return fmt.Errorf("record %s on %s: %w", e.Reason, key, err)
			}
		}
		if b.CreateVolume != nil {
			if _, err := kinds.Volumes.Create(ctx, tx, b.CreateVolume); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
				return fmt.Errorf("provision volume for %s: %w", key, err)
			}
		}
		if b.UpdateVolume != nil {
			if _, err := kinds.Volumes.Update(ctx, tx, b.UpdateVolume); err != nil {
				return fmt.Errorf("bind volume %s: %w", b.UpdateVolume.Metadata.Name, err)
			}
		}
		if b.Claim != nil {
			if _, err := kinds.Claims.Update(ctx, tx, b.Claim); err != nil {
				return fmt.Errorf("bind claim %s: %w", key, err)
			}
		}
		return nil
	})
}

// reclaim applies each bound volume's reclaim policy once its claim is gone. The
// candidates come from the caches (no list, nothing decoded); each is then checked
// in Postgres, its volume re-read locked and its claim looked up, since the volume
// and claim caches are fed one after the other and one may be ahead of the other.
func (c *Controller) reclaim(ctx context.Context) error {
	if err := c.caches.Volumes.Synced(ctx); err != nil {
		return err
	}
	if err := c.caches.Claims.Synced(ctx); err != nil {
		return err
	}
	now := c.clock.Now()
	var candidates []string
	for _, v := range c.caches.Volumes.Select(store.ListOptions{}) {
		if remove, updated := reconcile.Reclaim(v, c.claimExists(v), now); remove || updated != nil {
			candidates = append(candidates, v.GetMetadata().GetName())
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		for _, name := range candidates {
			v, err := kinds.Volumes.GetForUpdate(ctx, tx, "", name)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			exists := false
			if ref := v.GetSpec().GetClaimRef(); ref != nil {
				cl, err := kinds.Claims.Get(ctx, tx, ref.GetNamespace(), ref.GetName())
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				exists = err == nil && (ref.GetUid() == "" || cl.GetMetadata().GetUid() == ref.GetUid())
			}
			remove, updated := reconcile.Reclaim(v, exists, now)
			switch {
			case remove:
				if _, err := kinds.Volumes.Delete(ctx, tx, "", v.Metadata.Name, v.Metadata.Uid); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			case updated != nil:
				if _, err := kinds.Volumes.Update(ctx, tx, updated); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// claimExists reports whether the claim v is bound to is in the claim cache.
func (c *Controller) claimExists(v *statefulsetv1.PersistentVolume) bool {
	ref := v.GetSpec().GetClaimRef()
	if ref == nil {
		return false
	}
	cl, ok := c.caches.Claims.Get(ref.GetNamespace(), ref.GetName())
	return ok && (ref.GetUid() == "" || cl.GetMetadata().GetUid() == ref.GetUid())
}
