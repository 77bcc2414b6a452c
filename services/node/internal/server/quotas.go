package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/node/internal/quota"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// ResourceQuotaResource describes core/v1 ResourceQuotas: spec.hard validated
// (standard names, quantities not negative, counts whole), status the quota
// controller's (and pod admission's), reset on create.
func ResourceQuotaResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*corev1.ResourceQuota] {
	return &crud.Resource[*corev1.ResourceQuota]{
		Kind: repo.ResourceQuotas, APIVersion: "v1", KindName: "ResourceQuota", Namespaced: true,
		GR: apierr.GroupResource{Resource: "resourcequotas"}, GK: apierr.GroupKind{Kind: "ResourceQuota"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(q *corev1.ResourceQuota) (*string, *string) { return &q.ApiVersion, &q.Kind },
		Default: func(q *corev1.ResourceQuota) {
			if q.Spec == nil {
				q.Spec = &corev1.ResourceQuotaSpec{}
			}
			defaults.NormalizeQuantities(q.Spec.Hard)
		},
		Validate:    validateResourceQuota,
		ResetStatus: func(q *corev1.ResourceQuota) { q.Status = nil },
		CopyStatus:  func(dst, src *corev1.ResourceQuota) { dst.Status = src.Status },
		SpecEqual:   func(a, b *corev1.ResourceQuota) bool { return proto.Equal(a.Spec, b.Spec) },
	}
}

func validateResourceQuota(q, old *corev1.ResourceQuota, create bool) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if create {
		errs = validation.ValidateObjectMeta(q.GetMetadata(), true, validation.NameIsDNSSubdomain, meta)
	} else {
		errs = validation.ValidateObjectMetaUpdate(q.GetMetadata(), old.GetMetadata(), meta)
	}
	return append(errs, quota.ValidateResourceQuotaSpec(q.GetSpec())...)
}

// LimitRangeResource describes core/v1 LimitRanges: Container items defaulted
// (default from max, defaultRequest from default or min) and validated.
func LimitRangeResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*corev1.LimitRange] {
	return &crud.Resource[*corev1.LimitRange]{
		Kind: repo.LimitRanges, APIVersion: "v1", KindName: "LimitRange", Namespaced: true,
		GR: apierr.GroupResource{Resource: "limitranges"}, GK: apierr.GroupKind{Kind: "LimitRange"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(l *corev1.LimitRange) (*string, *string) { return &l.ApiVersion, &l.Kind },
		Default:  quota.DefaultLimitRange,
		Validate: func(l, old *corev1.LimitRange, create bool) field.ErrorList {
			meta := field.NewPath("metadata")
			var errs field.ErrorList
			if create {
				errs = validation.ValidateObjectMeta(l.GetMetadata(), true, validation.NameIsDNSSubdomain, meta)
			} else {
				errs = validation.ValidateObjectMetaUpdate(l.GetMetadata(), old.GetMetadata(), meta)
			}
			return append(errs, quota.ValidateLimitRangeSpec(l.GetSpec())...)
		},
	}
}

// ResourceQuotaServer implements ResourceQuotaService.
type ResourceQuotaServer struct {
	corev1.UnimplementedResourceQuotaServiceServer
	R *crud.Resource[*corev1.ResourceQuota]
}

func quotaRequired(q *corev1.ResourceQuota) error {
	if q == nil {
		return apierr.BadRequest("a ResourceQuota is required in the request body")
	}
	return nil
}

// CreateResourceQuota stores a ResourceQuota.
func (s *ResourceQuotaServer) CreateResourceQuota(ctx context.Context, req *corev1.CreateResourceQuotaRequest) (*corev1.CreateResourceQuotaResponse, error) {
	if err := quotaRequired(req.GetResourceQuota()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetResourceQuota(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.CreateResourceQuotaResponse{ResourceQuota: out}, nil
}

// GetResourceQuota returns one ResourceQuota.
func (s *ResourceQuotaServer) GetResourceQuota(ctx context.Context, req *corev1.GetResourceQuotaRequest) (*corev1.GetResourceQuotaResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &corev1.GetResourceQuotaResponse{ResourceQuota: out}, nil
}

// ListResourceQuotas lists ResourceQuotas.
func (s *ResourceQuotaServer) ListResourceQuotas(ctx context.Context, req *corev1.ListResourceQuotasRequest) (*corev1.ListResourceQuotasResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &corev1.ListResourceQuotasResponse{ApiVersion: "v1", Kind: "ResourceQuotaList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateResourceQuota replaces a ResourceQuota's metadata and spec.
func (s *ResourceQuotaServer) UpdateResourceQuota(ctx context.Context, req *corev1.UpdateResourceQuotaRequest) (*corev1.UpdateResourceQuotaResponse, error) {
	if err := quotaRequired(req.GetResourceQuota()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), proto.Clone(req.GetResourceQuota()).(*corev1.ResourceQuota), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.UpdateResourceQuotaResponse{ResourceQuota: out}, nil
}

// UpdateResourceQuotaStatus replaces a ResourceQuota's status.
func (s *ResourceQuotaServer) UpdateResourceQuotaStatus(ctx context.Context, req *corev1.UpdateResourceQuotaStatusRequest) (*corev1.UpdateResourceQuotaStatusResponse, error) {
	if err := quotaRequired(req.GetResourceQuota()); err != nil {
		return nil, err
	}
	out, err := s.R.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), proto.Clone(req.GetResourceQuota()).(*corev1.ResourceQuota), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.UpdateResourceQuotaStatusResponse{ResourceQuota: out}, nil
}

// DeleteResourceQuota deletes a ResourceQuota.
func (s *ResourceQuotaServer) DeleteResourceQuota(ctx context.Context, req *corev1.DeleteResourceQuotaRequest) (*corev1.DeleteResourceQuotaResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &corev1.DeleteResourceQuotaResponse{Status: st}, nil
}

// WatchResourceQuotas streams ResourceQuota changes.
func (s *ResourceQuotaServer) WatchResourceQuotas(req *corev1.WatchResourceQuotasRequest, stream corev1.ResourceQuotaService_WatchResourceQuotasServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, q *corev1.ResourceQuota) error {
			return stream.Send(&corev1.WatchResourceQuotasResponse{Type: typ, Object: q})
		})
}

// LimitRangeServer implements LimitRangeService.
type LimitRangeServer struct {
	corev1.UnimplementedLimitRangeServiceServer
	R *crud.Resource[*corev1.LimitRange]
}

func limitRangeRequired(l *corev1.LimitRange) error {
	if l == nil {
		return apierr.BadRequest("a LimitRange is required in the request body")
	}
	return nil
}

// CreateLimitRange stores a LimitRange.
func (s *LimitRangeServer) CreateLimitRange(ctx context.Context, req *corev1.CreateLimitRangeRequest) (*corev1.CreateLimitRangeResponse, error) {
	if err := limitRangeRequired(req.GetLimitRange()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetLimitRange(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.CreateLimitRangeResponse{LimitRange: out}, nil
}

// GetLimitRange returns one LimitRange.
func (s *LimitRangeServer) GetLimitRange(ctx context.Context, req *corev1.GetLimitRangeRequest) (*corev1.GetLimitRangeResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &corev1.GetLimitRangeResponse{LimitRange: out}, nil
}

// ListLimitRanges lists LimitRanges.
func (s *LimitRangeServer) ListLimitRanges(ctx context.Context, req *corev1.ListLimitRangesRequest) (*corev1.ListLimitRangesResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &corev1.ListLimitRangesResponse{ApiVersion: "v1", Kind: "LimitRangeList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateLimitRange replaces a LimitRange.
func (s *LimitRangeServer) UpdateLimitRange(ctx context.Context, req *corev1.UpdateLimitRangeRequest) (*corev1.UpdateLimitRangeResponse, error) {
	if err := limitRangeRequired(req.GetLimitRange()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), proto.Clone(req.GetLimitRange()).(*corev1.LimitRange), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.UpdateLimitRangeResponse{LimitRange: out}, nil
}

// DeleteLimitRange deletes a LimitRange.
func (s *LimitRangeServer) DeleteLimitRange(ctx context.Context, req *corev1.DeleteLimitRangeRequest) (*corev1.DeleteLimitRangeResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &corev1.DeleteLimitRangeResponse{Status: st}, nil
}

// WatchLimitRanges streams LimitRange changes.
func (s *LimitRangeServer) WatchLimitRanges(req *corev1.WatchLimitRangesRequest, stream corev1.LimitRangeService_WatchLimitRangesServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, l *corev1.LimitRange) error {
			return stream.Send(&corev1.WatchLimitRangesResponse{Type: typ, Object: l})
		})
}
