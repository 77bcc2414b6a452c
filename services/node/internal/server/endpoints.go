package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// EndpointsResource describes Endpoints with Kubernetes' API semantics: the
// user writes those of a Service without selector; the endpoints controller
// writes the others (through the store, not through here).
func EndpointsResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*nodev1.Endpoints] {
	return &crud.Resource[*nodev1.Endpoints]{
		Kind: repo.Endpoints, APIVersion: "v1", KindName: "Endpoints", Namespaced: true,
		GR: apierr.GroupResource{Resource: "endpoints"}, GK: apierr.GroupKind{Kind: "Endpoints"},
		DB: db, Hub: hub, Now: now,
		TypeMeta:  func(e *nodev1.Endpoints) (*string, *string) { return &e.ApiVersion, &e.Kind },
		Default:   defaultEndpoints,
		Validate:  validateEndpoints,
		SpecEqual: func(a, b *nodev1.Endpoints) bool { return true }, // Endpoints have no generation to bump
	}
}

// defaultEndpoints is SetDefaults_Endpoints: a port's protocol is TCP.
func defaultEndpoints(e *nodev1.Endpoints) {
	for _, ss := range e.GetSubsets() {
		for _, p := range ss.GetPorts() {
			if p.Protocol == "" {
				p.Protocol = "TCP"
			}
		}
	}
}

// validateEndpoints is core's ValidateEndpoints (create and update).
func validateEndpoints(e, old *nodev1.Endpoints, create bool) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if create {
		errs = validation.ValidateObjectMeta(e.Metadata, true, validation.NameIsDNSSubdomain, meta)
	} else {
		errs = validation.ValidateObjectMetaUpdate(e.Metadata, old.Metadata, meta)
	}
	sp := field.NewPath("subsets")
	for i, ss := range e.GetSubsets() {
		ip := sp.Index(i)
		if len(ss.GetAddresses()) == 0 && len(ss.GetNotReadyAddresses()) == 0 {
			errs = append(errs, field.Required(ip, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.GetAddresses() {
			errs = append(errs, validateEndpointAddress(a, ip.Child("addresses").Index(j))...)
		}
		for j, a := range ss.GetNotReadyAddresses() {
			errs = append(errs, validateEndpointAddress(a, ip.Child("notReadyAddresses").Index(j))...)
		}
		for j, p := range ss.GetPorts() {
			errs = append(errs, validateEndpointPort(p, len(ss.GetPorts()) > 1, ip.Child("ports").Index(j))...)
		}
	}
	return errs
}

func validateEndpointAddress(a *nodev1.EndpointAddress, fp *field.Path) field.ErrorList {
	errs := k8svalidation.IsValidIP(fp.Child("ip"), a.GetIp())
	if a.GetHostname() != "" {
		for _, msg := range k8svalidation.IsDNS1123Label(a.GetHostname()) {
			errs = append(errs, field.Invalid(fp.Child("hostname"), a.GetHostname(), msg))
		}
	}
	if a.NodeName != nil {
		for _, msg := range validation.NameIsDNSSubdomain(a.GetNodeName(), false) {
			errs = append(errs, field.Invalid(fp.Child("nodeName"), a.GetNodeName(), msg))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, validateNonSpecialIP(a.GetIp(), fp.Child("ip"))...)
	}
	return errs
}

func validateEndpointPort(p *nodev1.EndpointPort, requireName bool, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case requireName && p.GetName() == "":
		errs = append(errs, field.Required(fp.Child("name"), ""))
	case p.GetName() != "":
		for _, msg := range k8svalidation.IsDNS1123Label(p.GetName()) {
			errs = append(errs, field.Invalid(fp.Child("name"), p.GetName(), msg))
		}
	}
	for _, msg := range k8svalidation.IsValidPortNum(int(p.GetPort())) {
		errs = append(errs, field.Invalid(fp.Child("port"), p.GetPort(), msg))
	}
	switch {
	case p.GetProtocol() == "":
		errs = append(errs, field.Required(fp.Child("protocol"), ""))
	case !contains(supportedProtocols, p.GetProtocol()):
		errs = append(errs, field.NotSupported(fp.Child("protocol"), p.GetProtocol(), supportedProtocols))
	}
	if p.AppProtocol != nil {
		for _, msg := range k8svalidation.IsQualifiedName(p.GetAppProtocol()) {
			errs = append(errs, field.Invalid(fp.Child("appProtocol"), p.GetAppProtocol(), msg))
		}
	}
	return errs
}

// EndpointsServer implements EndpointsService.
type EndpointsServer struct {
	nodev1.UnimplementedEndpointsServiceServer
	R *crud.Resource[*nodev1.Endpoints]
}

func endpointsRequired(e *nodev1.Endpoints) error {
	if e == nil {
		return apierr.BadRequest("an Endpoints object is required in the request body")
	}
	return nil
}

// CreateEndpoints stores Endpoints.
func (s *EndpointsServer) CreateEndpoints(ctx context.Context, req *nodev1.CreateEndpointsRequest) (*nodev1.CreateEndpointsResponse, error) {
	if err := endpointsRequired(req.GetEndpoints()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetEndpoints(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &nodev1.CreateEndpointsResponse{Endpoints: out}, nil
}

// GetEndpoints returns one Endpoints object.
func (s *EndpointsServer) GetEndpoints(ctx context.Context, req *nodev1.GetEndpointsRequest) (*nodev1.GetEndpointsResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &nodev1.GetEndpointsResponse{Endpoints: out}, nil
}

// ListEndpoints lists Endpoints.
func (s *EndpointsServer) ListEndpoints(ctx context.Context, req *nodev1.ListEndpointsRequest) (*nodev1.ListEndpointsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &nodev1.ListEndpointsResponse{ApiVersion: "v1", Kind: "EndpointsList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateEndpoints replaces Endpoints.
func (s *EndpointsServer) UpdateEndpoints(ctx context.Context, req *nodev1.UpdateEndpointsRequest) (*nodev1.UpdateEndpointsResponse, error) {
	if err := endpointsRequired(req.GetEndpoints()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), proto.Clone(req.GetEndpoints()).(*nodev1.Endpoints), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &nodev1.UpdateEndpointsResponse{Endpoints: out}, nil
}

// DeleteEndpoints deletes Endpoints (the controller recreates those of a
// Service with a selector).
func (s *EndpointsServer) DeleteEndpoints(ctx context.Context, req *nodev1.DeleteEndpointsRequest) (*nodev1.DeleteEndpointsResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &nodev1.DeleteEndpointsResponse{Status: st}, nil
}

// WatchEndpoints streams Endpoints changes.
func (s *EndpointsServer) WatchEndpoints(req *nodev1.WatchEndpointsRequest, stream nodev1.EndpointsService_WatchEndpointsServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, e *nodev1.Endpoints) error {
			return stream.Send(&nodev1.WatchEndpointsResponse{Type: typ, Object: e})
		})
}
