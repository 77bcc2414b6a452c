package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

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
		// Every binding takes the volumes table's lock, so two claims never take the
		// same free volume.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('persistentvolume-binder'))"); err != nil {
			return err
		}
		volumes, err := kinds.Volumes.List(ctx, tx, store.ListOptions{})
		if err != nil {
			return err
		}
		classes, err := kinds.StorageClasses.List(ctx, tx, store.ListOptions{})
		if err != nil {
			return err
		}
		in := reconcile.Claim{Classes: classes,
			ConsumerNode: reconcile.ConsumerNode(claim, c.caches.Pods.Select(store.ListOptions{Namespace: ns}))}
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

// reclaim applies each bound volume's reclaim policy once its claim is gone (one
// list of the claims, not a read per volume).
func (c *Controller) reclaim(ctx context.Context) error {
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		volumes, err := kinds.Volumes.List(ctx, tx, store.ListOptions{})
		if err != nil {
			return err
		}
		claims, err := kinds.Claims.List(ctx, tx, store.ListOptions{})
		if err != nil {
			return err
		}
		uids := make(map[string]string, len(claims)) // namespace/name -> uid
		for _, cl := range claims {
			uids[cl.Metadata.Namespace+"/"+cl.Metadata.Name] = cl.Metadata.Uid
		}
		now := c.clock.Now()
		for _, v := range volumes {
			exists := false
			if ref := v.GetSpec().GetClaimRef(); ref != nil {
				uid, ok := uids[ref.GetNamespace()+"/"+ref.GetName()]
				exists = ok && (ref.GetUid() == "" || uid == ref.GetUid())
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
