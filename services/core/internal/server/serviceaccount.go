package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/core/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// ServiceAccountResource describes core/v1 ServiceAccounts with Kubernetes' API semantics.
func ServiceAccountResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*corev1.ServiceAccount] {
	return &crud.Resource[*corev1.ServiceAccount]{
		Kind: kinds.ServiceAccounts, APIVersion: "v1", KindName: "ServiceAccount", Namespaced: true,
		GR: apierr.GroupResource{Resource: "serviceaccounts"}, GK: apierr.GroupKind{Kind: "ServiceAccount"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(sa *corev1.ServiceAccount) (*string, *string) { return &sa.ApiVersion, &sa.Kind },
		Validate: ValidateServiceAccount,
	}
}

// ValidateServiceAccount is Kubernetes' ValidateServiceAccount and
// ValidateServiceAccountUpdate: the object meta (a DNS subdomain name).
func ValidateServiceAccount(sa, old *corev1.ServiceAccount, create bool) field.ErrorList {
	meta := field.NewPath("metadata")
	if create {
		return validation.ValidateObjectMeta(sa.GetMetadata(), true, validation.NameIsDNSSubdomain, meta)
	}
	return validation.ValidateObjectMetaUpdate(sa.GetMetadata(), old.GetMetadata(), meta)
}

// ServiceAccountServer implements ServiceAccountService.
type ServiceAccountServer struct {
	corev1.UnimplementedServiceAccountServiceServer
	R *crud.Resource[*corev1.ServiceAccount]
}

func serviceAccountRequired(sa *corev1.ServiceAccount) error {
	if sa == nil {
		return apierr.BadRequest("a ServiceAccount is required in the request body")
	}
	return nil
}

// CreateServiceAccount stores a ServiceAccount.
func (s *ServiceAccountServer) CreateServiceAccount(ctx context.Context, req *corev1.CreateServiceAccountRequest) (*corev1.CreateServiceAccountResponse, error) {
	if err := serviceAccountRequired(req.GetServiceAccount()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetServiceAccount(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.CreateServiceAccountResponse{ServiceAccount: out}, nil
}

// GetServiceAccount returns one ServiceAccount.
func (s *ServiceAccountServer) GetServiceAccount(ctx context.Context, req *corev1.GetServiceAccountRequest) (*corev1.GetServiceAccountResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &corev1.GetServiceAccountResponse{ServiceAccount: out}, nil
}

// ListServiceAccounts lists ServiceAccounts.
func (s *ServiceAccountServer) ListServiceAccounts(ctx context.Context, req *corev1.ListServiceAccountsRequest) (*corev1.ListServiceAccountsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &corev1.ListServiceAccountsResponse{ApiVersion: "v1", Kind: "ServiceAccountList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateServiceAccount replaces a ServiceAccount.
func (s *ServiceAccountServer) UpdateServiceAccount(ctx context.Context, req *corev1.UpdateServiceAccountRequest) (*corev1.UpdateServiceAccountResponse, error) {
	if err := serviceAccountRequired(req.GetServiceAccount()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), proto.Clone(req.GetServiceAccount()).(*corev1.ServiceAccount), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.UpdateServiceAccountResponse{ServiceAccount: out}, nil
}

// DeleteServiceAccount deletes a ServiceAccount.
func (s *ServiceAccountServer) DeleteServiceAccount(ctx context.Context, req *corev1.DeleteServiceAccountRequest) (*corev1.DeleteServiceAccountResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &corev1.DeleteServiceAccountResponse{Status: st}, nil
}

// WatchServiceAccounts streams ServiceAccount changes.
func (s *ServiceAccountServer) WatchServiceAccounts(req *corev1.WatchServiceAccountsRequest, stream corev1.ServiceAccountService_WatchServiceAccountsServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, sa *corev1.ServiceAccount) error {
			return stream.Send(&corev1.WatchServiceAccountsResponse{Type: typ, Object: sa})
		})
}
