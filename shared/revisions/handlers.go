package revisions

import (
	"context"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Handlers are the bodies of an owner kind's history RPCs, `kubectl rollout
// history` and `kubectl rollout undo` (the DaemonSet's and StatefulSet's):
// the gRPC handlers only unwrap the request and wrap the answer. E is the
// service's history entry message.
type Handlers[T store.Object, E any] struct {
	// R serves the owners.
	R *crud.Resource[T]
	// Template and SetTemplate read and replace the owner's spec.template.
	Template    func(T) *corev1.PodTemplateSpec
	SetTemplate func(T, *corev1.PodTemplateSpec)
	// Entry builds one history entry.
	Entry func(Entry) E
}

// owned reads an owner and the ControllerRevisions it controls.
func (h Handlers[T, E]) owned(ctx context.Context, ns, name string) (T, []*Revision, error) {
	var zero T
	obj, err := h.R.Get(ctx, ns, name)
	if err != nil {
		return zero, nil, err
	}
	m := obj.GetMetadata()
	crs, err := Store.List(ctx, h.R.DB.Pool, store.ListOptions{Namespace: m.GetNamespace(), OwnerUID: m.GetUid()})
	if err != nil {
		return zero, nil, apierr.Internal(err)
	}
	return obj, crs, nil
}

// History is `kubectl rollout history`: one entry per revision, oldest first.
func (h Handlers[T, E]) History(ctx context.Context, ns, name string) ([]E, error) {
	_, crs, err := h.owned(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return History(crs, h.Entry), nil
}

// Revision is `kubectl rollout history --revision=N`.
func (h Handlers[T, E]) Revision(ctx context.Context, ns, name string, revision int64) (E, error) {
	var zero E
	_, crs, err := h.owned(ctx, ns, name)
	if err != nil {
		return zero, err
	}
	for _, e := range History(crs, func(e Entry) Entry { return e }) {
		if e.Revision == revision {
			return h.Entry(e), nil
		}
	}
	return zero, apierr.NotFound(apierr.GroupResource{Group: h.R.GR.Group, Resource: h.R.GR.Resource + "/history"}, ErrRevisionNotFound.Error())
}

// Rollback is `kubectl rollout undo [--to-revision=N]` (0: the previous
// revision): the revision's template becomes the owner's template again (and
// so its revision the newest). It returns the owner and kubectl's message.
func (h Handlers[T, E]) Rollback(ctx context.Context, ns, name string, toRevision int64) (T, string, error) {
	var zero T
	obj, crs, err := h.owned(ctx, ns, name)
	if err != nil {
		return zero, "", err
	}
	rb, err := PlanRollback(h.Template(obj), crs, toRevision)
	if err != nil {
		return zero, "", apierr.BadRequest(err.Error())
	}
	if rb.Skipped {
		return obj, rb.Message, nil
	}
	// The read resourceVersion makes this write fail if the owner changed meanwhile.
	h.SetTemplate(obj, rb.Template)
	out, err := h.R.Update(ctx, ns, name, obj, nil)
	if err != nil {
		return zero, "", err
	}
	return out, rb.Message, nil
}

// Resource serves the stored ControllerRevisions over the API (get, list and watch, from
// the watch cache; they are written by the controllers only).
func Resource(db *store.DB, hub *watch.Hub) *crud.Resource[*Revision] {
	return &crud.Resource[*Revision]{
		Kind: Store, APIVersion: "apps/v1", KindName: "ControllerRevision", Namespaced: true,
		GR: apierr.GroupResource{Group: "apps", Resource: "controllerrevisions"}, GK: apierr.GroupKind{Group: "apps", Kind: "ControllerRevision"},
		DB: db, Hub: hub,
		TypeMeta: func(r *Revision) (*string, *string) { return &r.ApiVersion, &r.Kind },
	}
}
