package server

import (
	"context"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
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

// MaxDataSize is Kubernetes' MaxSecretSize: the most a ConfigMap's or a
// Secret's values may hold in all (1 MiB).
const MaxDataSize = 1 << 20

// immutableMsg is Kubernetes' message for a change to an immutable ConfigMap or Secret.
const immutableMsg = "field is immutable when `immutable` is set"

// ConfigMapResource describes core/v1 ConfigMaps with Kubernetes' API semantics.
func ConfigMapResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*corev1.ConfigMap] {
	return &crud.Resource[*corev1.ConfigMap]{
		Kind: kinds.ConfigMaps, APIVersion: "v1", KindName: "ConfigMap", Namespaced: true,
		GR: apierr.GroupResource{Resource: "configmaps"}, GK: apierr.GroupKind{Kind: "ConfigMap"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(c *corev1.ConfigMap) (*string, *string) { return &c.ApiVersion, &c.Kind },
		Validate: ValidateConfigMap,
	}
}

// ValidateConfigMap is Kubernetes' ValidateConfigMap and ValidateConfigMapUpdate:
// keys are config keys (IsConfigMapKey), no key in both data and binaryData, at
// most 1 MiB of values, and nothing changes once immutable is set.
func ValidateConfigMap(c, old *corev1.ConfigMap, create bool) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if create {
		errs = validation.ValidateObjectMeta(c.GetMetadata(), true, validation.NameIsDNSSubdomain, meta)
	} else {
		errs = validation.ValidateObjectMetaUpdate(c.GetMetadata(), old.GetMetadata(), meta)
		if old.GetImmutable() {
			if !c.GetImmutable() {
				errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableMsg))
			}
			if !maps.Equal(c.GetData(), old.GetData()) {
				errs = append(errs, field.Forbidden(field.NewPath("data"), immutableMsg))
			}
			if !maps.EqualFunc(c.GetBinaryData(), old.GetBinaryData(), bytesEqual) {
				errs = append(errs, field.Forbidden(field.NewPath("binaryData"), immutableMsg))
			}
		}
	}
	size := 0
	dataPath, binPath := field.NewPath("data"), field.NewPath("binaryData")
	for _, k := range slices.Sorted(maps.Keys(c.GetData())) {
		errs = append(errs, validateConfigKey(k, dataPath)...)
		if _, dup := c.GetBinaryData()[k]; dup {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, "duplicate of key present in binaryData"))
		}
		size += len(c.GetData()[k])
	}
	for _, k := range slices.Sorted(maps.Keys(c.GetBinaryData())) {
		errs = append(errs, validateConfigKey(k, binPath)...)
		size += len(c.GetBinaryData()[k])
	}
	if size > MaxDataSize {
		// Kubernetes names no field: the limit is on the whole object.
		errs = append(errs, field.TooLong(field.NewPath(""), "", MaxDataSize))
	}
	return errs
}

// validateConfigKey is IsConfigMapKey on one key of a data map.
func validateConfigKey(k string, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range k8svalidation.IsConfigMapKey(k) {
		errs = append(errs, field.Invalid(fp.Key(k), k, msg))
	}
	return errs
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// ConfigMapServer implements ConfigMapService.
type ConfigMapServer struct {
	corev1.UnimplementedConfigMapServiceServer
	R *crud.Resource[*corev1.ConfigMap]
}

func configMapRequired(c *corev1.ConfigMap) error {
	if c == nil {
		return apierr.BadRequest("a ConfigMap is required in the request body")
	}
	return nil
}

// CreateConfigMap stores a ConfigMap.
func (s *ConfigMapServer) CreateConfigMap(ctx context.Context, req *corev1.CreateConfigMapRequest) (*corev1.CreateConfigMapResponse, error) {
	if err := configMapRequired(req.GetConfigMap()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetConfigMap(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.CreateConfigMapResponse{ConfigMap: out}, nil
}

// GetConfigMap returns one ConfigMap.
func (s *ConfigMapServer) GetConfigMap(ctx context.Context, req *corev1.GetConfigMapRequest) (*corev1.GetConfigMapResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &corev1.GetConfigMapResponse{ConfigMap: out}, nil
}

// ListConfigMaps lists ConfigMaps.
func (s *ConfigMapServer) ListConfigMaps(ctx context.Context, req *corev1.ListConfigMapsRequest) (*corev1.ListConfigMapsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &corev1.ListConfigMapsResponse{ApiVersion: "v1", Kind: "ConfigMapList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateConfigMap replaces a ConfigMap.
func (s *ConfigMapServer) UpdateConfigMap(ctx context.Context, req *corev1.UpdateConfigMapRequest) (*corev1.UpdateConfigMapResponse, error) {
	if err := configMapRequired(req.GetConfigMap()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), proto.Clone(req.GetConfigMap()).(*corev1.ConfigMap), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.UpdateConfigMapResponse{ConfigMap: out}, nil
}

// DeleteConfigMap deletes a ConfigMap.
func (s *ConfigMapServer) DeleteConfigMap(ctx context.Context, req *corev1.DeleteConfigMapRequest) (*corev1.DeleteConfigMapResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &corev1.DeleteConfigMapResponse{Status: st}, nil
}

// WatchConfigMaps streams ConfigMap changes.
func (s *ConfigMapServer) WatchConfigMaps(req *corev1.WatchConfigMapsRequest, stream corev1.ConfigMapService_WatchConfigMapsServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, c *corev1.ConfigMap) error {
			return stream.Send(&corev1.WatchConfigMapsResponse{Type: typ, Object: c})
		})
}
