package server

import (
	"context"
	"maps"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/services/statefulset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

// NewStorageClassResource describes storage.k8s.io/v1 StorageClasses (cluster-scoped).
func NewStorageClassResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*storagev1.StorageClass] {
	return &crud.Resource[*storagev1.StorageClass]{
		Kind: kinds.StorageClasses, APIVersion: "storage.k8s.io/v1", KindName: "StorageClass",
		GR: apierr.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}, GK: apierr.GroupKind{Group: "storage.k8s.io", Kind: "StorageClass"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(c *storagev1.StorageClass) (*string, *string) { return &c.ApiVersion, &c.Kind },
		Default:  defaultStorageClass,
		Validate: validateStorageClass,
	}
}

// StandardClass is the class podwarden makes at start (the addon manager's default
// StorageClass of kubeadm-based clusters, minikube's and kind's "standard"): marked
// default, served by the simulated provisioner, Delete, Immediate.
func StandardClass() *storagev1.StorageClass {
	sc := &storagev1.StorageClass{ApiVersion: "storage.k8s.io/v1", Kind: "StorageClass",
		Metadata: &corev1.ObjectMeta{Name: DefaultStorageClass, Annotations: map[string]string{reconcile.AnnDefaultClass: "true"},
			Labels: map[string]string{"addonmanager.kubernetes.io/mode": "EnsureExists"}},
		Provisioner: reconcile.Provisioner}
	defaultStorageClass(sc)
	return sc
}

// EnsureStandardClass creates the standard class unless a class of that name exists.
func EnsureStandardClass(ctx context.Context, r *crud.Resource[*storagev1.StorageClass]) error {
	_, err := r.Create(ctx, "", StandardClass(), nil)
	if apierr.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// defaultStorageClass is storage/v1 SetDefaults_StorageClass: reclaimPolicy Delete,
// volumeBindingMode Immediate.
func defaultStorageClass(sc *storagev1.StorageClass) {
	if sc.ReclaimPolicy == nil {
		sc.ReclaimPolicy = proto.String(reclaimDelete)
	}
	if sc.VolumeBindingMode == nil {
		sc.VolumeBindingMode = proto.String(reconcile.BindingImmediate)
	}
}

// Kubernetes' limits on a class's parameters.
const (
	maxProvisionerParameterSize = 256 * (1 << 10)
	maxProvisionerParameterLen  = 512
)

// validateStorageClass is ValidateStorageClass and ValidateStorageClassUpdate
// (pkg/apis/storage/validation): a provisioner (a qualified name), parameters within
// limits, reclaimPolicy Delete or Retain, volumeBindingMode Immediate or
// WaitForFirstConsumer; parameters, provisioner, reclaimPolicy and volumeBindingMode
// cannot change.
func validateStorageClass(sc, old *storagev1.StorageClass, create bool) field.ErrorList {
	var errs field.ErrorList
	if create {
		errs = validation.ValidateObjectMeta(sc.GetMetadata(), false, validation.NameIsDNSSubdomain, metaPath)
	} else {
		errs = validation.ValidateObjectMetaUpdate(sc.GetMetadata(), old.GetMetadata(), metaPath)
	}
	provPath := field.NewPath("provisioner")
	if sc.GetProvisioner() == "" {
		errs = append(errs, field.Required(provPath, ""))
	} else {
		for _, msg := range k8svalidation.IsQualifiedName(strings.ToLower(sc.GetProvisioner())) {
			errs = append(errs, field.Invalid(provPath, sc.GetProvisioner(), msg))
		}
	}
	paramsPath := field.NewPath("parameters")
	if len(sc.GetParameters()) > maxProvisionerParameterLen {
		errs = append(errs, field.TooLong(paramsPath, "Provisioner Parameters exceeded max allowed", maxProvisionerParameterLen))
	} else {
		size := 0
		for k, v := range sc.GetParameters() {
			if k == "" {
				errs = append(errs, field.Invalid(paramsPath, k, "field can not be empty."))
			}
			size += len(k) + len(v)
		}
		if size > maxProvisionerParameterSize {
			errs = append(errs, field.TooLong(paramsPath, "", maxProvisionerParameterSize))
		}
	}
	if p := sc.GetReclaimPolicy(); p != reclaimDelete && p != reclaimRetain {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), p, []string{reclaimDelete, reclaimRetain}))
	}
	modePath := field.NewPath("volumeBindingMode")
	switch {
	case sc.VolumeBindingMode == nil:
		errs = append(errs, field.Required(modePath, ""))
	case sc.GetVolumeBindingMode() != reconcile.BindingImmediate && sc.GetVolumeBindingMode() != reconcile.BindingWaitForFirstConsumer:
		errs = append(errs, field.NotSupported(modePath, sc.GetVolumeBindingMode(), []string{reconcile.BindingImmediate, reconcile.BindingWaitForFirstConsumer}))
	}
	if create || old == nil {
		return errs
	}
	if !maps.Equal(sc.GetParameters(), old.GetParameters()) {
		errs = append(errs, field.Forbidden(paramsPath, "updates to parameters are forbidden."))
	}
	if sc.GetProvisioner() != old.GetProvisioner() {
		errs = append(errs, field.Forbidden(provPath, "updates to provisioner are forbidden."))
	}
	if sc.GetReclaimPolicy() != old.GetReclaimPolicy() {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	return append(errs, validation.ValidateImmutable(sc.GetVolumeBindingMode(), old.GetVolumeBindingMode(), modePath)...)
}

// StorageClassServer serves StorageClassService.
type StorageClassServer struct {
	storagev1.UnimplementedStorageClassServiceServer
	R *crud.Resource[*storagev1.StorageClass]
}

func requiredClass(c *storagev1.StorageClass) error {
	if c == nil {
		return apierr.BadRequest("a StorageClass is required in the request body")
	}
	return nil
}

// CreateStorageClass stores a class.
func (s *StorageClassServer) CreateStorageClass(ctx context.Context, req *storagev1.CreateStorageClassRequest) (*storagev1.CreateStorageClassResponse, error) {
	if err := requiredClass(req.GetStorageClass()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, "", req.GetStorageClass(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &storagev1.CreateStorageClassResponse{StorageClass: out}, nil
}

// GetStorageClass returns one class.
func (s *StorageClassServer) GetStorageClass(ctx context.Context, req *storagev1.GetStorageClassRequest) (*storagev1.GetStorageClassResponse, error) {
	out, err := s.R.Get(ctx, "", req.GetName())
	if err != nil {
		return nil, err
	}
	return &storagev1.GetStorageClassResponse{StorageClass: out}, nil
}

// ListStorageClasses lists classes.
func (s *StorageClassServer) ListStorageClasses(ctx context.Context, req *storagev1.ListStorageClassesRequest) (*storagev1.ListStorageClassesResponse, error) {
	res, err := s.R.List(ctx, "", crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &storagev1.ListStorageClassesResponse{ApiVersion: "storage.k8s.io/v1", Kind: "StorageClassList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateStorageClass replaces a class (only metadata, mountOptions and
// allowVolumeExpansion may change).
func (s *StorageClassServer) UpdateStorageClass(ctx context.Context, req *storagev1.UpdateStorageClassRequest) (*storagev1.UpdateStorageClassResponse, error) {
	if err := requiredClass(req.GetStorageClass()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, "", req.GetName(), req.GetStorageClass(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &storagev1.UpdateStorageClassResponse{StorageClass: out}, nil
}

// DeleteStorageClass deletes a class; claims and volumes of the class stay.
func (s *StorageClassServer) DeleteStorageClass(ctx context.Context, req *storagev1.DeleteStorageClassRequest) (*storagev1.DeleteStorageClassResponse, error) {
	_, out, err := s.R.Delete(ctx, "", req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &storagev1.DeleteStorageClassResponse{StorageClass: out}, nil
}

// WatchStorageClasses streams changes.
func (s *StorageClassServer) WatchStorageClasses(req *storagev1.WatchStorageClassesRequest, stream storagev1.StorageClassService_WatchStorageClassesServer) error {
	return s.R.ServeWatch(stream, "", req,
		func(typ string, obj *storagev1.StorageClass) error {
			return stream.Send(&storagev1.WatchStorageClassesResponse{Type: typ, Object: obj})
		})
}
