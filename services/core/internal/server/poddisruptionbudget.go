package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/services/core/internal/disruption"
	"github.com/podwarden/podwarden/services/core/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

// PodDisruptionBudgetGR names the resource in errors.
var PodDisruptionBudgetGR = apierr.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}

// PodDisruptionBudgetResource describes policy/v1 PodDisruptionBudgets. A client's
// status is ignored (the disruption controller writes it); a spec change bumps the
// generation, and evictions wait until the controller has observed it.
func PodDisruptionBudgetResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*policyv1.PodDisruptionBudget] {
	return &crud.Resource[*policyv1.PodDisruptionBudget]{
		Kind: kinds.PodDisruptionBudgets, APIVersion: "policy/v1", KindName: "PodDisruptionBudget", Namespaced: true,
		GR: PodDisruptionBudgetGR, GK: apierr.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(p *policyv1.PodDisruptionBudget) (*string, *string) { return &p.ApiVersion, &p.Kind },
		Validate: ValidatePodDisruptionBudget,
		ResetStatus: func(p *policyv1.PodDisruptionBudget) {
			// Kubernetes' PrepareForCreate: a new budget allows nothing until the controller has looked.
			p.Status = &policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: proto.Int32(0), CurrentHealthy: proto.Int32(0),
				DesiredHealthy: proto.Int32(0), ExpectedPods: proto.Int32(0)}
		},
		CopyStatus: func(dst, src *policyv1.PodDisruptionBudget) { dst.Status = src.Status },
		SpecEqual:  func(a, b *policyv1.PodDisruptionBudget) bool { return proto.Equal(a.Spec, b.Spec) },
	}
}

// ValidatePodDisruptionBudget is Kubernetes' ValidatePodDisruptionBudget (policy/v1):
// minAvailable and maxUnavailable not both set, each an integer >= 0 or a
// percentage <= 100%, a valid selector, unhealthyPodEvictionPolicy IfHealthyBudget
// or AlwaysAllow.
func ValidatePodDisruptionBudget(p, old *policyv1.PodDisruptionBudget, create bool) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if create {
		errs = validation.ValidateObjectMeta(p.GetMetadata(), true, validation.NameIsDNSSubdomain, meta)
	} else {
		errs = validation.ValidateObjectMetaUpdate(p.GetMetadata(), old.GetMetadata(), meta)
	}
	spec := field.NewPath("spec")
	s := p.GetSpec()
	if s.GetMinAvailable() != nil && s.GetMaxUnavailable() != nil {
		js, _ := protojson.Marshal(s)
		errs = append(errs, field.Invalid(spec, string(js), "minAvailable and maxUnavailable cannot be both set"))
	}
	for _, f := range []struct {
		name string
		v    *structpb.Value
	}{{"minAvailable", s.GetMinAvailable()}, {"maxUnavailable", s.GetMaxUnavailable()}} {
		errs = append(errs, validation.ValidateIntOrPercent(f.v, spec.Child(f.name))...)
		errs = append(errs, validation.ValidateNotMoreThan100Percent(f.v, spec.Child(f.name))...)
	}
	errs = append(errs, validation.ValidateLabelSelector(s.GetSelector(), spec.Child("selector"))...)
	if s.UnhealthyPodEvictionPolicy != nil {
		if pol := s.GetUnhealthyPodEvictionPolicy(); pol != disruption.PolicyIfHealthyBudget && pol != disruption.PolicyAlwaysAllow {
			errs = append(errs, field.NotSupported(spec.Child("unhealthyPodEvictionPolicy"), pol,
				[]string{disruption.PolicyAlwaysAllow, disruption.PolicyIfHealthyBudget}))
		}
	}
	return errs
}

// PodDisruptionBudgetServer serves PodDisruptionBudgetService.
type PodDisruptionBudgetServer struct {
	policyv1.UnimplementedPodDisruptionBudgetServiceServer
	R *crud.Resource[*policyv1.PodDisruptionBudget]
}

func requiredPDB(p *policyv1.PodDisruptionBudget) error {
	if p == nil {
		return apierr.BadRequest("a PodDisruptionBudget is required in the request body")
	}
	return nil
}

// CreatePodDisruptionBudget stores a budget.
func (s *PodDisruptionBudgetServer) CreatePodDisruptionBudget(ctx context.Context, req *policyv1.CreatePodDisruptionBudgetRequest) (*policyv1.CreatePodDisruptionBudgetResponse, error) {
	if err := requiredPDB(req.GetPodDisruptionBudget()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetPodDisruptionBudget(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &policyv1.CreatePodDisruptionBudgetResponse{PodDisruptionBudget: out}, nil
}

// GetPodDisruptionBudget returns one budget.
func (s *PodDisruptionBudgetServer) GetPodDisruptionBudget(ctx context.Context, req *policyv1.GetPodDisruptionBudgetRequest) (*policyv1.GetPodDisruptionBudgetResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &policyv1.GetPodDisruptionBudgetResponse{PodDisruptionBudget: out}, nil
}

// ListPodDisruptionBudgets lists budgets.
func (s *PodDisruptionBudgetServer) ListPodDisruptionBudgets(ctx context.Context, req *policyv1.ListPodDisruptionBudgetsRequest) (*policyv1.ListPodDisruptionBudgetsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &policyv1.ListPodDisruptionBudgetsResponse{ApiVersion: "policy/v1", Kind: "PodDisruptionBudgetList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdatePodDisruptionBudget replaces a budget's spec and metadata.
func (s *PodDisruptionBudgetServer) UpdatePodDisruptionBudget(ctx context.Context, req *policyv1.UpdatePodDisruptionBudgetRequest) (*policyv1.UpdatePodDisruptionBudgetResponse, error) {
	if err := requiredPDB(req.GetPodDisruptionBudget()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), req.GetPodDisruptionBudget(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &policyv1.UpdatePodDisruptionBudgetResponse{PodDisruptionBudget: out}, nil
}

// DeletePodDisruptionBudget deletes a budget.
func (s *PodDisruptionBudgetServer) DeletePodDisruptionBudget(ctx context.Context, req *policyv1.DeletePodDisruptionBudgetRequest) (*policyv1.DeletePodDisruptionBudgetResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &policyv1.DeletePodDisruptionBudgetResponse{Status: st}, nil
}

// WatchPodDisruptionBudgets streams changes.
func (s *PodDisruptionBudgetServer) WatchPodDisruptionBudgets(req *policyv1.WatchPodDisruptionBudgetsRequest, stream policyv1.PodDisruptionBudgetService_WatchPodDisruptionBudgetsServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, obj *policyv1.PodDisruptionBudget) error {
			return stream.Send(&policyv1.WatchPodDisruptionBudgetsResponse{Type: typ, Object: obj})
		})
}
