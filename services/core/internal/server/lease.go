package server

import (
	"context"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/core/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	coordinationv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/coordination/v1"
)

// LeaseResource describes coordination.k8s.io/v1 Leases with Kubernetes' API
// semantics. A Lease has no status and no generation to bump: every update
// is a spec update.
func LeaseResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*coordinationv1.Lease] {
	return &crud.Resource[*coordinationv1.Lease]{
		Kind: kinds.Leases, APIVersion: "coordination.k8s.io/v1", KindName: "Lease", Namespaced: true,
		GR: apierr.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, GK: apierr.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(l *coordinationv1.Lease) (*string, *string) { return &l.ApiVersion, &l.Kind },
		Default:  DefaultLease,
		Validate: ValidateLease,
	}
}

// DefaultLease writes acquireTime and renewTime as Kubernetes' MicroTime does on
// the wire: UTC, RFC 3339 with six fractional digits. A time that does not parse
// is left for ValidateLease to report.
func DefaultLease(l *coordinationv1.Lease) {
	s := l.GetSpec()
	if s == nil {
		return
	}
	for _, t := range []*string{s.AcquireTime, s.RenewTime} {
		if t == nil {
			continue
		}
		if v, err := ParseMicroTime(*t); err == nil {
			*t = FormatMicroTime(v)
		}
	}
}

// ParseMicroTime reads an RFC 3339 time (any number of fractional digits, as
// kube-apiserver's MicroTime accepts in practice from RFC3339Micro writers and
// protojson writers alike).
func ParseMicroTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// FormatMicroTime is metav1.MicroTime's JSON form: UTC, microseconds.
func FormatMicroTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(metav1.RFC3339Micro)
}

// validLeaseStrategies are the built-in coordinated leader election strategies.
var validLeaseStrategies = []string{"OldestEmulationVersion"}

// ValidateLease is Kubernetes' ValidateLease / ValidateLeaseUpdate
// (pkg/apis/coordination/validation): a DNS subdomain name, leaseDurationSeconds
// > 0, leaseTransitions >= 0, a known (or domain-qualified) strategy, and
// preferredHolder only with a strategy; plus well-formed MicroTimes.
func ValidateLease(l, old *coordinationv1.Lease, create bool) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if create {
		errs = validation.ValidateObjectMeta(l.GetMetadata(), true, validation.NameIsDNSSubdomain, meta)
	} else {
		errs = validation.ValidateObjectMetaUpdate(l.GetMetadata(), old.GetMetadata(), meta)
	}
	return append(errs, validateLeaseSpec(l.GetSpec(), field.NewPath("spec"))...)
}

func validateLeaseSpec(s *coordinationv1.LeaseSpec, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s == nil {
		return nil
	}
	if s.LeaseDurationSeconds != nil && s.GetLeaseDurationSeconds() <= 0 {
		errs = append(errs, field.Invalid(fp.Child("leaseDurationSeconds"), s.GetLeaseDurationSeconds(), "must be greater than 0"))
	}
	if s.LeaseTransitions != nil && s.GetLeaseTransitions() < 0 {
		errs = append(errs, field.Invalid(fp.Child("leaseTransitions"), s.GetLeaseTransitions(), validation.IsNegativeErrorMsg))
	}
	for _, t := range []struct {
		name string
		v    *string
	}{{"acquireTime", s.AcquireTime}, {"renewTime", s.RenewTime}} {
		if t.v == nil {
			continue
		}
		if _, err := ParseMicroTime(*t.v); err != nil {
			errs = append(errs, field.Invalid(fp.Child(t.name), *t.v, "must be an RFC 3339 time, e.g. "+metav1.RFC3339Micro))
		}
	}
	if s.Strategy != nil {
		errs = append(errs, validateLeaseStrategy(s.GetStrategy(), fp.Child("strategy"))...)
	}
	if s.GetPreferredHolder() != "" && s.GetStrategy() == "" {
		errs = append(errs, field.Forbidden(fp.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}

// validateLeaseStrategy is ValidateCoordinatedLeaseStrategy: a built-in strategy,
// or a custom one qualified by a domain ("example.com/my-strategy").
func validateLeaseStrategy(strategy string, fp *field.Path) field.ErrorList {
	for _, v := range validLeaseStrategies {
		if strategy == v {
			return nil
		}
	}
	if !strings.Contains(strategy, "/") {
		return field.ErrorList{field.NotSupported(fp, strategy, validLeaseStrategies)}
	}
	var errs field.ErrorList
	for _, msg := range k8svalidation.IsQualifiedName(strategy) {
		errs = append(errs, field.Invalid(fp, strategy, msg))
	}
	return errs
}

// LeaseServer implements LeaseService.
type LeaseServer struct {
	coordinationv1.UnimplementedLeaseServiceServer
	R *crud.Resource[*coordinationv1.Lease]
}

func leaseRequired(l *coordinationv1.Lease) error {
	if l == nil {
		return apierr.BadRequest("a Lease is required in the request body")
	}
	return nil
}

// CreateLease stores a Lease.
func (s *LeaseServer) CreateLease(ctx context.Context, req *coordinationv1.CreateLeaseRequest) (*coordinationv1.CreateLeaseResponse, error) {
	if err := leaseRequired(req.GetLease()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetLease(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &coordinationv1.CreateLeaseResponse{Lease: out}, nil
}

// GetLease returns one Lease.
func (s *LeaseServer) GetLease(ctx context.Context, req *coordinationv1.GetLeaseRequest) (*coordinationv1.GetLeaseResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &coordinationv1.GetLeaseResponse{Lease: out}, nil
}

// ListLeases lists Leases.
func (s *LeaseServer) ListLeases(ctx context.Context, req *coordinationv1.ListLeasesRequest) (*coordinationv1.ListLeasesResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &coordinationv1.ListLeasesResponse{ApiVersion: "coordination.k8s.io/v1", Kind: "LeaseList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateLease replaces a Lease.
func (s *LeaseServer) UpdateLease(ctx context.Context, req *coordinationv1.UpdateLeaseRequest) (*coordinationv1.UpdateLeaseResponse, error) {
	if err := leaseRequired(req.GetLease()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), proto.Clone(req.GetLease()).(*coordinationv1.Lease), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &coordinationv1.UpdateLeaseResponse{Lease: out}, nil
}

// DeleteLease deletes a Lease.
func (s *LeaseServer) DeleteLease(ctx context.Context, req *coordinationv1.DeleteLeaseRequest) (*coordinationv1.DeleteLeaseResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &coordinationv1.DeleteLeaseResponse{Status: st}, nil
}

// WatchLeases streams Lease changes.
func (s *LeaseServer) WatchLeases(req *coordinationv1.WatchLeasesRequest, stream coordinationv1.LeaseService_WatchLeasesServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, l *coordinationv1.Lease) error {
			return stream.Send(&coordinationv1.WatchLeasesResponse{Type: typ, Object: l})
		})
}
