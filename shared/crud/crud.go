// Package crud gives a stored kind Kubernetes' API semantics in one place, so every
// service's gRPC handlers stay thin: type meta defaulting and checks, namespace from
// the path, generateName, create/update/status strategies (status reset on create,
// kept on update; generation bumped on spec change), validation, label and field
// selectors, optimistic concurrency, propagation policies and watches.
package crud

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/naming"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Propagation policies.
const (
	Orphan     = "Orphan"
	Background = "Background"
	Foreground = "Foreground"
)

// Finalizers set while a Foreground or Orphan deletion is carried out by the controller.
const (
	FinalizerForeground = "foregroundDeletion"
	FinalizerOrphan     = "orphan"
)

// Resource is one kind served over the API.
type Resource[T store.Object] struct {
	Kind store.Kind[T]
	// APIVersion and KindName are the type meta ("apps/v1", "Deployment").
	APIVersion string
	KindName   string
	// GR names the resource in errors ("deployments.apps"), GK the kind ("Deployment.apps").
	GR         apierr.GroupResource
	GK         apierr.GroupKind
	Namespaced bool
	DB         *store.DB
	Hub        *watch.Hub
	Now        func() time.Time

	// TypeMeta returns pointers to the object's apiVersion and kind fields.
	TypeMeta func(T) (apiVersion, kind *string)
	// Default applies Kubernetes' defaults.
	Default func(T)
	// Validate checks a new object (old is the zero T on create).
	Validate func(obj, old T, create bool) field.ErrorList
	// ResetStatus clears status on create (the client's status is ignored).
	ResetStatus func(T)
	// CopyStatus copies status from src to dst (update keeps the stored status).
	CopyStatus func(dst, src T)
	// SpecEqual reports whether two objects have the same spec (a change bumps generation).
	SpecEqual func(a, b T) bool
	// Fields returns the object's selectable fields beyond metadata.name/namespace.
	Fields func(T) map[string]string
	// OrphanDependents, when set, runs in the deleting transaction for propagationPolicy Orphan.
	OrphanDependents func(ctx context.Context, tx pgx.Tx, obj T) error
	// Foreground, when true, makes Foreground deletions wait for the controller
	// (deletionTimestamp + finalizer); otherwise Foreground behaves like Background.
	Foreground bool
}

func (r *Resource[T]) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func isDryRun(dryRun []string) bool {
	for _, d := range dryRun {
		if d == "All" {
			return true
		}
	}
	return false
}

func (r *Resource[T]) checkTypeAndNamespace(obj T, ns string) error {
	if obj.GetMetadata() == nil {
		return apierr.BadRequest("metadata is required")
	}
	av, k := r.TypeMeta(obj)
	if errs := validation.ValidateTypeMeta(*av, *k, r.APIVersion, r.KindName); len(errs) > 0 {
		return apierr.BadRequest(fmt.Sprintf("the API version in the data (%s) or kind (%s) does not match the expected API version (%s) and kind (%s) of this endpoint", *av, *k, r.APIVersion, r.KindName))
	}
	*av, *k = r.APIVersion, r.KindName
	m := obj.GetMetadata()
	if r.Namespaced {
		if ns == "" {
			ns = "default"
		}
		if m.Namespace != "" && m.Namespace != ns {
			return apierr.BadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		m.Namespace = ns
	} else {
		m.Namespace = ""
	}
	return nil
}

func (r *Resource[T]) invalid(obj T, errs field.ErrorList) error {
	return apierr.Invalid(r.GK, obj.GetMetadata().GetName(), errs)
}

// Create validates, defaults and stores a new object.
func (r *Resource[T]) Create(ctx context.Context, ns string, obj T, dryRun []string) (T, error) {
	var zero T
	obj = proto.Clone(obj).(T)
	if err := r.checkTypeAndNamespace(obj, ns); err != nil {
		return zero, err
	}
	m := obj.GetMetadata()
	if m.Name == "" && m.GenerateName != "" {
		m.Name = naming.GenerateName(m.GenerateName)
	}
	m.Uid, m.ResourceVersion, m.Generation = "", "", 1
	m.CreationTimestamp = timestamppb.New(r.now().Truncate(time.Second))
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
	if r.ResetStatus != nil {
		r.ResetStatus(obj)
	}
	if r.Default != nil {
		r.Default(obj)
	}
	if r.Validate != nil {
		if errs := r.Validate(obj, zero, true); len(errs) > 0 {
			return zero, r.invalid(obj, errs)
		}
	}
	if isDryRun(dryRun) {
		return obj, nil
	}
	created, err := r.Kind.Create(ctx, r.DB.Pool, obj)
	if err != nil {
		return zero, apierr.FromStore(err, r.GR, m.Name)
	}
	return created, nil
}

// Get reads one object.
func (r *Resource[T]) Get(ctx context.Context, ns, name string) (T, error) {
	if !r.Namespaced {
		ns = ""
	} else if ns == "" {
		ns = "default"
	}
	obj, err := r.Kind.Get(ctx, r.DB.Pool, ns, name)
	if err != nil {
		var zero T
		return zero, apierr.FromStore(err, r.GR, name)
	}
	r.fillTypeMeta(obj)
	return obj, nil
}

func (r *Resource[T]) fillTypeMeta(obj T) {
	av, k := r.TypeMeta(obj)
	*av, *k = r.APIVersion, r.KindName
}

// Matcher builds the filter of a list or watch.
func (r *Resource[T]) Matcher(ns, labelSelector, fieldSelector string) (func(T) bool, error) {
	lsel, err := labels.Parse(labelSelector)
	if err != nil {
		return nil, apierr.BadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	fsel, err := labels.ParseFieldSelector(fieldSelector)
	if err != nil {
		return nil, apierr.BadRequest(fmt.Sprintf("invalid field selector: %v", err))
	}
	if fsel, err = ConvertFieldSelector(r.GR, fsel); err != nil {
		return nil, err
	}
	return func(o T) bool {
		m := o.GetMetadata()
		if r.Namespaced && ns != "" && m.GetNamespace() != ns {
			return false
		}
		if !lsel.Matches(labelsSet(m.GetLabels())) {
			return false
		}
		if fsel.Empty() {
			return true
		}
		f := map[string]string{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()}
		if r.Fields != nil {
			for k, v := range r.Fields(o) {
				f[k] = v
			}
		}
		return labels.MatchFields(fsel, f)
	}, nil
}

// ListOptions are a list request's query: selectors, resourceVersion semantics, paging.
type ListOptions struct {
	LabelSelector, FieldSelector          string
	ResourceVersion, ResourceVersionMatch string
	Limit                                 int64
	Continue                              string
}

// ListResult is one page of a list: its items and its ListMeta.
type ListResult[T store.Object] struct {
	Items []T
	Meta  *corev1.ListMeta
}

// Cache is the kind's watch cache (its objects carry their type meta), or nil for a kind
// without a change log.
func (r *Resource[T]) Cache() *watch.Cache[T] {
	if !r.Kind.Watch || r.Hub == nil {
		return nil
	}
	return watch.For(r.Hub, r.Kind, r.fillTypeMeta)
}

// List lists objects of a namespace ("" = all) matching the selectors, from the watch
// cache with Kubernetes' resourceVersion and paging semantics. The items are shared
// with the cache: callers must not modify them.
func (r *Resource[T]) List(ctx context.Context, ns string, o ListOptions) (ListResult[T], error) {
	var res ListResult[T]
	wo := watch.ListOptions{ResourceVersion: o.ResourceVersion, ResourceVersionMatch: o.ResourceVersionMatch, Limit: o.Limit, Continue: o.Continue}
	if err := wo.Validate(); err != nil {
		return res, err
	}
	match, err := r.Matcher(ns, o.LabelSelector, o.FieldSelector)
	if err != nil {
		return res, err
	}
	c := r.Cache()
	if c == nil {
		items, rv, err := r.listStore(ctx, ns, o.LabelSelector, match)
		res.Items, res.Meta = items, &corev1.ListMeta{ResourceVersion: rv}
		return res, err
	}
	page, err := c.List(ctx, wo, match)
	if err != nil {
		return res, apierr.FromStore(err, r.GR, "")
	}
	res.Items = page.Items
	res.Meta = &corev1.ListMeta{ResourceVersion: page.ResourceVersion, Continue: page.Continue, RemainingItemCount: page.RemainingItemCount}
	return res, nil
}

// listStore lists from Postgres, for kinds without a change log (no watch cache).
func (r *Resource[T]) listStore(ctx context.Context, ns, labelSelector string, match func(T) bool) ([]T, string, error) {
	var items []T
	var rv int64
	err := pgx.BeginTxFunc(ctx, r.DB.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if rv, err = store.CurrentRV(ctx, tx); err != nil {
			return err
		}
		opts := store.ListOptions{Labels: labelEqualities(labelSelector)}
		if r.Namespaced {
			opts.Namespace = ns
		}
		items, err = r.Kind.List(ctx, tx, opts)
		return err
	})
	if err != nil {
		return nil, "", apierr.Internal(err)
	}
	out := items[:0]
	for _, o := range items {
		if match(o) {
			r.fillTypeMeta(o)
			out = append(out, o)
		}
	}
	return out, fmt.Sprint(rv), nil
}

// Update replaces spec, labels and annotations; status is kept; generation is
// bumped when the spec changes; a stale resourceVersion is a conflict.
func (r *Resource[T]) Update(ctx context.Context, ns, name string, obj T, dryRun []string) (T, error) {
	return r.update(ctx, ns, name, obj, dryRun, false)
}

// UpdateStatus replaces status only.
func (r *Resource[T]) UpdateStatus(ctx context.Context, ns, name string, obj T) (T, error) {
	return r.update(ctx, ns, name, obj, nil, true)
}

// UpdateStatusDryRun is UpdateStatus that a dryRun of "All" only checks.
func (r *Resource[T]) UpdateStatusDryRun(ctx context.Context, ns, name string, obj T, dryRun []string) (T, error) {
	return r.update(ctx, ns, name, obj, dryRun, true)
}

func (r *Resource[T]) update(ctx context.Context, ns, name string, obj T, dryRun []string, status bool) (T, error) {
	var zero T
	obj = proto.Clone(obj).(T)
	if err := r.checkTypeAndNamespace(obj, ns); err != nil {
		return zero, err
	}
	m := obj.GetMetadata()
	if m.Name == "" {
		m.Name = name
	}
	if m.Name != name {
		return zero, apierr.BadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.Name, name))
	}
	var out T
	err := r.DB.InTx(ctx, func(tx pgx.Tx) error {
		old, err := r.Kind.GetForUpdate(ctx, tx, m.Namespace, name)
		if err != nil {
			return apierr.FromStore(err, r.GR, name)
		}
		om := old.GetMetadata()
		if m.ResourceVersion != "" && m.ResourceVersion != om.ResourceVersion {
			return apierr.Conflict(r.GR, name, "the object has been modified; please apply your changes to the latest version and try again")
		}
		if m.Uid != "" && m.Uid != om.Uid {
			return apierr.Conflict(r.GR, name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", m.Uid, om.Uid))
		}
		var next T
		if status {
			next = proto.Clone(old).(T)
			if r.CopyStatus != nil {
				r.CopyStatus(next, obj)
			}
			if mf := m.GetManagedFields(); len(mf) > 0 {
				next.GetMetadata().ManagedFields = mf // the status writer's manager, recorded by the gateway
			}
		} else {
			next = obj
			nm := next.GetMetadata()
			nm.Uid, nm.CreationTimestamp, nm.Generation = om.Uid, om.CreationTimestamp, om.Generation
			nm.DeletionTimestamp, nm.DeletionGracePeriodSeconds = om.DeletionTimestamp, om.DeletionGracePeriodSeconds
			nm.GenerateName = om.GenerateName
			if nm.OwnerReferences == nil {
				nm.OwnerReferences = om.OwnerReferences
			}
			if len(nm.ManagedFields) == 0 {
				nm.ManagedFields = om.ManagedFields // as kube-apiserver: an update without managedFields keeps them
			}
			if r.CopyStatus != nil {
				r.CopyStatus(next, old)
			}
			if r.Default != nil {
				r.Default(next)
			}
			if r.Validate != nil {
				if errs := r.Validate(next, old, false); len(errs) > 0 {
					return r.invalid(next, errs)
				}
			}
			if r.SpecEqual != nil && !r.SpecEqual(next, old) {
				nm.Generation = om.Generation + 1
			}
		}
		next.GetMetadata().ResourceVersion = om.ResourceVersion
		if isDryRun(dryRun) {
			out = next
			return nil
		}
		out, err = r.Kind.Update(ctx, tx, next)
		return apierr.FromStore(err, r.GR, name)
	})
	if err != nil {
		return zero, err
	}
	r.fillTypeMeta(out)
	return out, nil
}

// Delete deletes by propagation policy: Background (default) removes the object now
// and the controller's garbage collection removes its dependents; Orphan releases the
// dependents in the same transaction; Foreground marks the object (deletionTimestamp,
// finalizer foregroundDeletion) and the controller removes it after its dependents.
func (r *Resource[T]) Delete(ctx context.Context, ns, name string, policy string, opts *corev1.DeleteOptions) (*corev1.Status, T, error) {
	var zero T
	if !r.Namespaced {
		ns = ""
	} else if ns == "" {
		ns = "default"
	}
	if policy == "" {
		policy = opts.GetPropagationPolicy()
	}
	if policy == "" && opts.GetOrphanDependents() {
		policy = Orphan
	}
	if policy == "" {
		policy = Background
	}
	if policy != Orphan && policy != Background && policy != Foreground {
		return nil, zero, apierr.Invalid(r.GK, name, field.ErrorList{field.NotSupported(field.NewPath("propagationPolicy"), policy, []string{Foreground, Background, Orphan})})
	}
	var deleted T
	err := r.DB.InTx(ctx, func(tx pgx.Tx) error {
		obj, err := r.Kind.GetForUpdate(ctx, tx, ns, name)
		if err != nil {
			return apierr.FromStore(err, r.GR, name)
		}
		m := obj.GetMetadata()
		if pre := opts.GetPreconditions(); pre != nil {
			if pre.Uid != nil && pre.GetUid() != m.Uid {
				return apierr.Conflict(r.GR, name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", pre.GetUid(), m.Uid))
			}
			if pre.ResourceVersion != nil && pre.GetResourceVersion() != m.ResourceVersion {
				return apierr.Conflict(r.GR, name, fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", pre.GetResourceVersion(), m.ResourceVersion))
			}
		}
		if isDryRun(opts.GetDryRun()) {
			deleted = obj
			return nil
		}
		if policy == Foreground && r.Foreground {
			if m.DeletionTimestamp == nil {
				m.DeletionTimestamp = timestamppb.New(r.now().Truncate(time.Second))
				zeroGrace := int64(0)
				m.DeletionGracePeriodSeconds = &zeroGrace
			}
			if !hasString(m.Finalizers, FinalizerForeground) {
				m.Finalizers = append(m.Finalizers, FinalizerForeground)
			}
			deleted, err = r.Kind.Update(ctx, tx, obj)
			return apierr.FromStore(err, r.GR, name)
		}
		if policy == Orphan && r.OrphanDependents != nil {
			if err := r.OrphanDependents(ctx, tx, obj); err != nil {
				return apierr.FromStore(err, r.GR, name)
			}
		}
		deleted, err = r.Kind.Delete(ctx, tx, ns, name, m.Uid)
		return apierr.FromStore(err, r.GR, name)
	})
	if err != nil {
		return nil, zero, err
	}
	r.fillTypeMeta(deleted)
	return &corev1.Status{
		Kind: "Status", ApiVersion: "v1", Metadata: &corev1.ListMeta{}, Status: "Success",
		Details: &corev1.StatusDetails{Name: name, Group: r.GR.Group, Kind: r.GR.Resource, Uid: deleted.GetMetadata().GetUid()},
	}, deleted, nil
}

// WatchOptions are a watch request's query.
type WatchOptions struct {
	LabelSelector, FieldSelector          string
	ResourceVersion, ResourceVersionMatch string
	AllowWatchBookmarks                   bool
	SendInitialEvents                     *bool
}

// Watch streams events matching the selectors from the watch cache until ctx ends or
// send fails, with Kubernetes' semantics (see watch.Cache.Watch). The objects are
// shared with the cache: send must not modify them.
func (r *Resource[T]) Watch(ctx context.Context, ns string, o WatchOptions, send func(typ string, obj T) error) error {
	c, wo, match, err := r.watchable(ns, o)
	if err != nil {
		return err
	}
	return r.follow(ctx, c, wo, match, send)
}

// ServeWatch serves a Watch RPC: it checks the request, sends the stream's headers as
// soon as the watch is established (its starting point fixed: every change after the
// headers is sent, as kube-apiserver answers a watch once its watcher is registered;
// and a client that waits for them, as the gateway does, need not wait for a first
// event), then the events. An error before that (a bad selector, 410 Gone) is the
// RPC's status, with no headers sent.
func (r *Resource[T]) ServeWatch(stream grpc.ServerStream, ns string, req WatchRequest, send func(typ string, obj T) error) error {
	c, wo, match, err := r.watchable(ns, WatchOptionsOf(req))
	if err != nil {
		return err
	}
	established := func() error { return stream.SendHeader(metadata.MD{}) }
	return r.followFrom(stream.Context(), c, wo, match, established, send)
}

// watchable checks a watch's options and selectors and finds the kind's cache.
func (r *Resource[T]) watchable(ns string, o WatchOptions) (*watch.Cache[T], watch.WatchOptions, func(T) bool, error) {
	wo := watch.WatchOptions{ResourceVersion: o.ResourceVersion, ResourceVersionMatch: o.ResourceVersionMatch,
		AllowWatchBookmarks: o.AllowWatchBookmarks, SendInitialEvents: o.SendInitialEvents}
	if err := wo.Validate(); err != nil {
		return nil, wo, nil, err
	}
	match, err := r.Matcher(ns, o.LabelSelector, o.FieldSelector)
	if err != nil {
		return nil, wo, nil, err
	}
	c := r.Cache()
	if c == nil {
		return nil, wo, nil, apierr.MethodNotSupported(r.GR, "watch")
	}
	return c, wo, match, nil
}

func (r *Resource[T]) follow(ctx context.Context, c *watch.Cache[T], wo watch.WatchOptions, match func(T) bool, send func(typ string, obj T) error) error {
	return r.followFrom(ctx, c, wo, match, nil, send)
}

func (r *Resource[T]) followFrom(ctx context.Context, c *watch.Cache[T], wo watch.WatchOptions, match func(T) bool, established func() error, send func(typ string, obj T) error) error {
	err := c.WatchEstablished(ctx, wo, match, established, send)
	if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		return apierr.FromStore(err, r.GR, "")
	}
	return nil
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// HasFinalizer reports whether m carries the finalizer.
func HasFinalizer(m *corev1.ObjectMeta, f string) bool { return hasString(m.GetFinalizers(), f) }

// RemoveFinalizer drops a finalizer from m.
func RemoveFinalizer(m *corev1.ObjectMeta, f string) {
	out := m.Finalizers[:0]
	for _, x := range m.Finalizers {
		if x != f {
			out = append(out, x)
		}
	}
	m.Finalizers = out
}

// ListRequest is what every generated List*Request carries.
type ListRequest interface {
	GetLabelSelector() string
	GetFieldSelector() string
	GetLimit() int64
	GetContinue() string
	GetResourceVersion() string
	GetResourceVersionMatch() string
}

// ListOptionsOf reads a List*Request's query.
func ListOptionsOf(req ListRequest) ListOptions {
	return ListOptions{
		LabelSelector: req.GetLabelSelector(), FieldSelector: req.GetFieldSelector(),
		ResourceVersion: req.GetResourceVersion(), ResourceVersionMatch: req.GetResourceVersionMatch(),
		Limit: req.GetLimit(), Continue: req.GetContinue(),
	}
}

// WatchRequest is what every generated Watch*Request carries (and an optional
// send_initial_events field, read by reflection).
type WatchRequest interface {
	proto.Message
	GetLabelSelector() string
	GetFieldSelector() string
	GetResourceVersion() string
	GetResourceVersionMatch() string
	GetAllowWatchBookmarks() bool
}

// WatchOptionsOf reads a Watch*Request's query.
func WatchOptionsOf(req WatchRequest) WatchOptions {
	o := WatchOptions{
		LabelSelector: req.GetLabelSelector(), FieldSelector: req.GetFieldSelector(),
		ResourceVersion: req.GetResourceVersion(), ResourceVersionMatch: req.GetResourceVersionMatch(),
		AllowWatchBookmarks: req.GetAllowWatchBookmarks(),
	}
	m := req.ProtoReflect()
	if f := m.Descriptor().Fields().ByName("send_initial_events"); f != nil && m.Has(f) {
		v := m.Get(f).Bool()
		o.SendInitialEvents = &v
	}
	return o
}
