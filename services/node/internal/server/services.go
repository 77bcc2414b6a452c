package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/naming"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

var (
	servicesGR = apierr.GroupResource{Resource: "services"}
	serviceGK  = apierr.GroupKind{Kind: "Service"}
)

// errDryRun rolls back a dry-run write after its allocations were tried.
var errDryRun = errors.New("dry run")

// ServiceResource is the generic side of Services: get, list with selectors
// (spec.clusterIP and spec.type are selectable fields), watch, status.
func ServiceResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*nodev1.Service] {
	return &crud.Resource[*nodev1.Service]{
		Kind: repo.Services, APIVersion: "v1", KindName: "Service", GR: servicesGR, GK: serviceGK, Namespaced: true,
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(s *nodev1.Service) (*string, *string) { return &s.ApiVersion, &s.Kind },
		CopyStatus: func(dst, src *nodev1.Service) {
			dst.Status = src.GetStatus()
			defaultService(dst)
		},
		Fields: func(s *nodev1.Service) map[string]string {
			return map[string]string{"spec.clusterIP": s.GetSpec().GetClusterIp(), "spec.type": s.GetSpec().GetType()}
		},
	}
}

// ServiceServer implements ServiceService. Create, update and delete are
// written out here (not through crud) because the ClusterIP and node port
// allocations must commit or roll back with the object.
type ServiceServer struct {
	nodev1.UnimplementedServiceServiceServer
	Deps
	R *crud.Resource[*nodev1.Service]
}

func checkServiceTypeMeta(s *nodev1.Service) error {
	if s == nil || s.Metadata == nil {
		return apierr.BadRequest("metadata is required")
	}
	if errs := validation.ValidateTypeMeta(s.ApiVersion, s.Kind, "v1", "Service"); len(errs) > 0 {
		return apierr.BadRequest(fmt.Sprintf("the API version in the data (%s) or kind (%s) does not match the expected API version (v1) and kind (Service) of this endpoint", s.ApiVersion, s.Kind))
	}
	s.ApiVersion, s.Kind = "v1", "Service"
	return nil
}

// CreateService validates, defaults and stores a Service with its ClusterIP
// (random, or the one asked for if free) and node ports, in one transaction.
func (s *ServiceServer) CreateService(ctx context.Context, req *nodev1.CreateServiceRequest) (*nodev1.CreateServiceResponse, error) {
	if req.GetService() == nil {
		return nil, apierr.BadRequest("metadata is required")
	}
	svc := proto.Clone(req.GetService()).(*nodev1.Service)
	if err := checkServiceTypeMeta(svc); err != nil {
		return nil, err
	}
	m := svc.Metadata
	ns, err := namespaceOf(req.GetNamespace(), m)
	if err != nil {
		return nil, err
	}
	m.Namespace = ns
	if m.Name == "" && m.GenerateName != "" {
		m.Name = naming.GenerateName(m.GenerateName)
	}
	m.Uid, m.ResourceVersion, m.Generation = uuid.NewString(), "", 0
	m.CreationTimestamp = timestamppb.New(s.now().Truncate(time.Second))
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
	svc.Status = nil
	defaultService(svc)
	if errs := validateService(svc, nil); len(errs) > 0 {
		return nil, apierr.Invalid(serviceGK, m.Name, errs)
	}
	out, err := s.write(ctx, m.Name, isDryRun(req.GetDryRun()), func(tx pgx.Tx) (*nodev1.Service, error) {
		// ResourceQuota admission, under the namespace's quota locks.
		adm, err := repo.LoadAdmission(ctx, tx, m.Namespace, s.now())
		if err != nil {
			return nil, err
		}
		if err := adm.AdmitService(svc); err != nil {
			return nil, apierr.Forbidden(servicesGR, m.Name, err)
		}
		if err := allocate(ctx, tx, svc, nil); err != nil {
			return nil, err
		}
		created, err := repo.Services.Create(ctx, tx, svc)
		if err != nil {
			return nil, err
		}
		return created, repo.WriteQuotaStatuses(ctx, tx, adm)
	})
	if err != nil {
		return nil, err
	}
	return &nodev1.CreateServiceResponse{Service: out}, nil
}

// write runs fn in a transaction; a dry run rolls back and answers what fn returned.
func (s *ServiceServer) write(ctx context.Context, name string, dryRun bool, fn func(tx pgx.Tx) (*nodev1.Service, error)) (*nodev1.Service, error) {
	var out *nodev1.Service
	err := s.DB.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = fn(tx); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, storeErr(err, servicesGR, name)
	}
	out.ApiVersion, out.Kind = "v1", "Service"
	return out, nil
}

// GetService returns one Service.
func (s *ServiceServer) GetService(ctx context.Context, req *nodev1.GetServiceRequest) (*nodev1.GetServiceResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &nodev1.GetServiceResponse{Service: out}, nil
}

// ListServices lists Services with label and field selectors.
func (s *ServiceServer) ListServices(ctx context.Context, req *nodev1.ListServicesRequest) (*nodev1.ListServicesResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &nodev1.ListServicesResponse{ApiVersion: "v1", Kind: "ServiceList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateService replaces labels, annotations and spec; the status is kept.
// What the client leaves out of an allocated field (clusterIP, node ports) is
// kept; changing the ClusterIP is refused.
func (s *ServiceServer) UpdateService(ctx context.Context, req *nodev1.UpdateServiceRequest) (*nodev1.UpdateServiceResponse, error) {
	if req.GetService() == nil {
		return nil, apierr.BadRequest("metadata is required")
	}
	svc := proto.Clone(req.GetService()).(*nodev1.Service)
	if err := checkServiceTypeMeta(svc); err != nil {
		return nil, err
	}
	ns, err := namespaceOf(req.GetNamespace(), svc.Metadata)
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	if name == "" {
		name = svc.Metadata.Name
	}
	if svc.Metadata.Name == "" {
		svc.Metadata.Name = name
	}
	if svc.Metadata.Name != name {
		return nil, apierr.BadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", svc.Metadata.Name, name))
	}
	dryRun := isDryRun(req.GetDryRun())
	out, err := s.write(ctx, name, dryRun, func(tx pgx.Tx) (*nodev1.Service, error) {
		old, err := repo.Services.GetForUpdate(ctx, tx, ns, name)
		if err != nil {
			return nil, err
		}
		om, m := old.Metadata, svc.Metadata
		if m.ResourceVersion != "" && m.ResourceVersion != om.ResourceVersion {
			return nil, apierr.Conflict(servicesGR, name, apierr.OptimisticLockErrorMsg)
		}
		if m.Uid != "" && m.Uid != om.Uid {
			return nil, apierr.Conflict(servicesGR, name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", m.Uid, om.Uid))
		}
		m.Namespace, m.Uid, m.CreationTimestamp, m.GenerateName = ns, om.Uid, om.CreationTimestamp, om.GenerateName
		m.Generation, m.ResourceVersion = om.Generation, om.ResourceVersion
		m.DeletionTimestamp, m.DeletionGracePeriodSeconds = om.DeletionTimestamp, om.DeletionGracePeriodSeconds
		if m.OwnerReferences == nil {
			m.OwnerReferences = om.OwnerReferences
		}
		svc.Status = old.Status
		if svc.Spec == nil {
			svc.Spec = &nodev1.ServiceSpec{}
		}
		keepAllocated(svc.Spec, old.GetSpec())
		defaultService(svc)
		if errs := validateService(svc, old); len(errs) > 0 {
			return nil, apierr.Invalid(serviceGK, name, errs)
		}
		if err := allocate(ctx, tx, svc, old); err != nil {
			return nil, err
		}
		if proto.Equal(svc, old) {
			return old, nil
		}
		if dryRun {
			return svc, nil // the resourceVersion stays the stored one
		}
		return repo.Services.Update(ctx, tx, svc)
	})
	if err != nil {
		return nil, err
	}
	return &nodev1.UpdateServiceResponse{Service: out}, nil
}

// UpdateServiceStatus replaces the status (status.loadBalancer) only.
func (s *ServiceServer) UpdateServiceStatus(ctx context.Context, req *nodev1.UpdateServiceStatusRequest) (*nodev1.UpdateServiceStatusResponse, error) {
	if req.GetService() == nil {
		return nil, apierr.BadRequest("a Service is required in the request body")
	}
	out, err := s.R.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), req.GetService(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &nodev1.UpdateServiceStatusResponse{Service: out}, nil
}

// DeleteService deletes the Service and frees its ClusterIP and node ports;
// the endpoints controller then deletes its Endpoints.
func (s *ServiceServer) DeleteService(ctx context.Context, req *nodev1.DeleteServiceRequest) (*nodev1.DeleteServiceResponse, error) {
	ns, name := req.GetNamespace(), req.GetName()
	if ns == "" {
		ns = "default"
	}
	out, err := s.write(ctx, name, isDryRun(req.GetOptions().GetDryRun()), func(tx pgx.Tx) (*nodev1.Service, error) {
		svc, err := repo.Services.GetForUpdate(ctx, tx, ns, name)
		if err != nil {
			return nil, err
		}
		if err := preconditions(req.GetOptions(), servicesGR, svc.Metadata); err != nil {
			return nil, err
		}
		return repo.DeleteService(ctx, tx, ns, name, svc.Metadata.Uid)
	})
	if err != nil {
		return nil, err
	}
	return &nodev1.DeleteServiceResponse{Service: out}, nil
}

// WatchServices streams Service changes.
func (s *ServiceServer) WatchServices(req *nodev1.WatchServicesRequest, stream nodev1.ServiceService_WatchServicesServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, svc *nodev1.Service) error {
			return stream.Send(&nodev1.WatchServicesResponse{Type: typ, Object: svc})
		})
}
