package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/core/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Namespace phases and the finalizer of a namespace's content.
const (
	NamespaceActive      = "Active"
	NamespaceTerminating = "Terminating"
	// FinalizerKubernetes in spec.finalizers keeps a terminating namespace until the
	// namespace controller has removed everything in it.
	FinalizerKubernetes = "kubernetes"
	// LabelMetadataName is the label every namespace carries with its own name.
	LabelMetadataName = "kubernetes.io/metadata.name"
)

// ImmortalNamespaces may not be deleted (kube-apiserver's NamespaceLifecycle admission).
var ImmortalNamespaces = []string{"default", "kube-system", "kube-public"}

// namespacesGR names namespaces in errors.
var namespacesGR = apierr.GroupResource{Resource: "namespaces"}

// NamespaceResource describes core/v1 Namespaces with Kubernetes' API semantics.
func NamespaceResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*corev1.Namespace] {
	return &crud.Resource[*corev1.Namespace]{
		Kind: kinds.Namespaces, APIVersion: "v1", KindName: "Namespace", Namespaced: false,
		GR: namespacesGR, GK: apierr.GroupKind{Kind: "Namespace"},
		DB: db, Hub: hub, Now: now,
		TypeMeta:    func(ns *corev1.Namespace) (*string, *string) { return &ns.ApiVersion, &ns.Kind },
		Default:     DefaultNamespace,
		Validate:    ValidateNamespace,
		ResetStatus: func(ns *corev1.Namespace) { ns.Status = nil },
		// An update keeps spec.finalizers and status (kube-apiserver's namespace update
		// strategy: only the finalize subresource and the controller change them).
		CopyStatus: func(dst, src *corev1.Namespace) {
			dst.Spec = proto.Clone(src.GetSpec()).(*corev1.NamespaceSpec)
			dst.Status = proto.Clone(src.GetStatus()).(*corev1.NamespaceStatus)
		},
		Fields: func(ns *corev1.Namespace) map[string]string {
			return map[string]string{"status.phase": ns.GetStatus().GetPhase()}
		},
	}
}

// DefaultNamespace is kube-apiserver's namespace strategy: the
// kubernetes.io/metadata.name label, the kubernetes finalizer on a new namespace,
// and phase Active unless it is being deleted.
func DefaultNamespace(ns *corev1.Namespace) {
	if ns.Metadata == nil {
		ns.Metadata = &corev1.ObjectMeta{}
	}
	if ns.Metadata.Name != "" {
		if ns.Metadata.Labels == nil {
			ns.Metadata.Labels = map[string]string{}
		}
		ns.Metadata.Labels[LabelMetadataName] = ns.Metadata.Name
	}
	if ns.Spec == nil {
		ns.Spec = &corev1.NamespaceSpec{}
	}
	if ns.Status == nil {
		ns.Status = &corev1.NamespaceStatus{}
		// Only a new namespace (no status yet) gets the finalizer by default.
		if !slices.Contains(ns.Spec.Finalizers, FinalizerKubernetes) {
			ns.Spec.Finalizers = append(ns.Spec.Finalizers, FinalizerKubernetes)
		}
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = NamespaceActive
	}
}

// ValidateNamespace is Kubernetes' ValidateNamespace and ValidateNamespaceUpdate:
// a DNS label name, no namespace, and finalizers that are qualified names.
func ValidateNamespace(ns, old *corev1.Namespace, create bool) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if create {
		errs = validation.ValidateObjectMeta(ns.GetMetadata(), false, validation.NameIsDNSLabel, meta)
	} else {
		errs = validation.ValidateObjectMetaUpdate(ns.GetMetadata(), old.GetMetadata(), meta)
	}
	for i, f := range ns.GetSpec().GetFinalizers() {
		for _, msg := range k8svalidation.IsQualifiedName(f) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "finalizers").Index(i), f, msg))
		}
	}
	return errs
}

// Namespace deletion outcomes (DeleteStep's verdict).
type deleteStep int

const (
	// stepMark: first delete: deletionTimestamp and phase Terminating are written.
	stepMark deleteStep = iota
	// stepRemove: nothing holds it: the row goes.
	stepRemove
	// stepWait: already terminating with finalizers left: 409 Conflict.
	stepWait
)

// DeleteStep is kube-apiserver's namespace Delete: the first request marks the
// namespace Terminating (with a deletionTimestamp) unless nothing holds it; later
// ones are refused with a conflict while spec.finalizers are left; a namespace with
// no finalizers at all goes at once.
func DeleteStep(ns *corev1.Namespace) deleteStep {
	m := ns.GetMetadata()
	held := len(ns.GetSpec().GetFinalizers()) > 0 || len(m.GetFinalizers()) > 0
	switch {
	case m.GetDeletionTimestamp() == nil && held:
		return stepMark
	case len(ns.GetSpec().GetFinalizers()) > 0:
		return stepWait
	case len(m.GetFinalizers()) > 0:
		return stepMark // only metadata finalizers left: stay marked until they are gone
	}
	return stepRemove
}

// terminatingConflict is kube-apiserver's answer to deleting a namespace that is
// already terminating.
const terminatingConflict = "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."

// NamespaceServer implements NamespaceService.
type NamespaceServer struct {
	corev1.UnimplementedNamespaceServiceServer
	R *crud.Resource[*corev1.Namespace]
}

func namespaceRequired(ns *corev1.Namespace) error {
	if ns == nil {
		return apierr.BadRequest("a Namespace is required in the request body")
	}
	return nil
}

// CreateNamespace stores a Namespace.
func (s *NamespaceServer) CreateNamespace(ctx context.Context, req *corev1.CreateNamespaceRequest) (*corev1.CreateNamespaceResponse, error) {
	if err := namespaceRequired(req.GetNamespace()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, "", req.GetNamespace(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.CreateNamespaceResponse{Namespace: out}, nil
}

// GetNamespace returns one Namespace.
func (s *NamespaceServer) GetNamespace(ctx context.Context, req *corev1.GetNamespaceRequest) (*corev1.GetNamespaceResponse, error) {
	out, err := s.R.Get(ctx, "", req.GetName())
	if err != nil {
		return nil, err
	}
	return &corev1.GetNamespaceResponse{Namespace: out}, nil
}

// ListNamespaces lists Namespaces.
func (s *NamespaceServer) ListNamespaces(ctx context.Context, req *corev1.ListNamespacesRequest) (*corev1.ListNamespacesResponse, error) {
	res, err := s.R.List(ctx, "", crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &corev1.ListNamespacesResponse{ApiVersion: "v1", Kind: "NamespaceList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateNamespace replaces labels, annotations and finalizers of the metadata;
// spec and status are kept.
func (s *NamespaceServer) UpdateNamespace(ctx context.Context, req *corev1.UpdateNamespaceRequest) (*corev1.UpdateNamespaceResponse, error) {
	if err := namespaceRequired(req.GetNamespace()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, "", req.GetName(), proto.Clone(req.GetNamespace()).(*corev1.Namespace), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.UpdateNamespaceResponse{Namespace: out}, nil
}

// DeleteNamespace starts a namespace's termination (DeleteStep).
func (s *NamespaceServer) DeleteNamespace(ctx context.Context, req *corev1.DeleteNamespaceRequest) (*corev1.DeleteNamespaceResponse, error) {
	name := req.GetName()
	if slices.Contains(ImmortalNamespaces, name) {
		return nil, apierr.Forbidden(namespacesGR, name, errors.New("this namespace may not be deleted"))
	}
	var out *corev1.Namespace
	err := s.R.DB.InTx(ctx, func(tx pgx.Tx) error {
		ns, err := s.R.Kind.GetForUpdate(ctx, tx, "", name)
		if err != nil {
			return apierr.FromStore(err, namespacesGR, name)
		}
		m := ns.GetMetadata()
		if pre := req.GetOptions().GetPreconditions(); pre != nil {
			if pre.Uid != nil && pre.GetUid() != m.GetUid() {
				return apierr.Conflict(namespacesGR, name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", pre.GetUid(), m.GetUid()))
			}
			if pre.ResourceVersion != nil && pre.GetResourceVersion() != m.GetResourceVersion() {
				return apierr.Conflict(namespacesGR, name, fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", pre.GetResourceVersion(), m.GetResourceVersion()))
			}
		}
		step := DeleteStep(ns)
		if step == stepWait {
			return apierr.Conflict(namespacesGR, name, terminatingConflict)
		}
		dry := slices.Contains(req.GetOptions().GetDryRun(), "All")
		if step == stepMark {
			MarkTerminating(ns, s.R.Now())
			if dry {
				out = ns
				return nil
			}
			out, err = s.R.Kind.Update(ctx, tx, ns)
			return apierr.FromStore(err, namespacesGR, name)
		}
		if dry {
			out = ns
			return nil
		}
		out, err = s.R.Kind.Delete(ctx, tx, "", name, m.GetUid())
		return apierr.FromStore(err, namespacesGR, name)
	})
	if err != nil {
		return nil, err
	}
	out.ApiVersion, out.Kind = "v1", "Namespace"
	return &corev1.DeleteNamespaceResponse{Namespace: out}, nil
}

// MarkTerminating sets the deletionTimestamp (once) and phase Terminating.
func MarkTerminating(ns *corev1.Namespace, now time.Time) {
	if ns.Metadata == nil {
		ns.Metadata = &corev1.ObjectMeta{}
	}
	if ns.Metadata.DeletionTimestamp == nil {
		ns.Metadata.DeletionTimestamp = timestamppb.New(now.Truncate(time.Second))
		zero := int64(0)
		ns.Metadata.DeletionGracePeriodSeconds = &zero
	}
	if ns.Status == nil {
		ns.Status = &corev1.NamespaceStatus{}
	}
	ns.Status.Phase = NamespaceTerminating
}

// WatchNamespaces streams Namespace changes.
func (s *NamespaceServer) WatchNamespaces(req *corev1.WatchNamespacesRequest, stream corev1.NamespaceService_WatchNamespacesServer) error {
	return s.R.ServeWatch(stream, "", req,
		func(typ string, ns *corev1.Namespace) error {
			return stream.Send(&corev1.WatchNamespacesResponse{Type: typ, Object: ns})
		})
}
