package chaos

import (
	"context"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The harness talks to the gateway while processes die under it: every call is
// retried until it succeeds, fails for good (invalid), or the context ends.

// callTimeout bounds one API call (a SIGSTOPped service holds a request).
const callTimeout = 10 * time.Second

// permanent reports an error no retry can fix.
func permanent(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) ||
		apierrors.IsMethodNotSupported(err) || apierrors.IsUnsupportedMediaType(err)
}

// retry runs f until it returns nil or a permanent error, or ctx ends.
func retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	var last error
	start, warned := time.Now(), false
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := f(cctx)
		cancel()
		if err == nil {
			return nil
		}
		last = err
		if !warned && time.Since(start) > 10*time.Second {
			warned = true
			fmt.Fprintf(os.Stderr, "chaos: %s still failing after 10s: %v\n", what, err)
		}
		if permanent(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// create creates an object; an AlreadyExists after a retry (the first attempt's
// answer was lost) reads the object instead. It returns the object's UID.
func create(ctx context.Context, what string, createFn func(ctx context.Context) (metav1.Object, error), getFn func(ctx context.Context) (metav1.Object, error)) (types.UID, error) {
	var uid types.UID
	err := retry(ctx, "create "+what, func(ctx context.Context) error {
		obj, err := createFn(ctx)
		if apierrors.IsAlreadyExists(err) {
			obj, err = getFn(ctx)
		}
		if err != nil {
			return err
		}
		uid = obj.GetUID()
		return nil
	})
	return uid, err
}

// update reads, mutates and writes an object until the write is accepted (a
// conflict reads again).
func update[T any](ctx context.Context, what string, get func(ctx context.Context) (T, error), mutate func(T), put func(ctx context.Context, obj T) error) error {
	return retry(ctx, "update "+what, func(ctx context.Context) error {
		obj, err := get(ctx)
		if err != nil {
			return err
		}
		mutate(obj)
		return put(ctx, obj)
	})
}

// remove deletes an object with a propagation policy; NotFound is success.
func remove(ctx context.Context, what string, policy metav1.DeletionPropagation, del func(ctx context.Context, opts metav1.DeleteOptions) error) error {
	return retry(ctx, "delete "+what, func(ctx context.Context) error {
		err := del(ctx, metav1.DeleteOptions{PropagationPolicy: &policy})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// gone reports whether an object no longer exists (or exists with another UID).
func gone(ctx context.Context, uid types.UID, get func(ctx context.Context) (metav1.Object, error)) (bool, error) {
	obj, err := get(ctx)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return obj.GetUID() != uid, nil
}

// ignoreExists: an AlreadyExists (the answer to a first attempt was lost) is success.
func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
