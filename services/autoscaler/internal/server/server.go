// Package server implements the autoscaler service's gRPC API: validation, defaults
// and storage through shared/crud, autoscaling/v1 by conversion; no decisions here.
package server

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/autoscaler/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

// Resource returns the HorizontalPodAutoscaler kind with Kubernetes' API semantics.
func Resource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*autoscalerv1.HorizontalPodAutoscaler] {
	return &crud.Resource[*autoscalerv1.HorizontalPodAutoscaler]{
		Kind: kinds.HPAs, APIVersion: APIVersionV2, KindName: Kind, Namespaced: true,
		GR: apierr.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"},
		GK: apierr.GroupKind{Group: "autoscaling", Kind: Kind},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(h *autoscalerv1.HorizontalPodAutoscaler) (*string, *string) { return &h.ApiVersion, &h.Kind },
		Default:  DefaultHPA,
		Validate: ValidateHPA,
		ResetStatus: func(h *autoscalerv1.HorizontalPodAutoscaler) {
			h.Status = &autoscalerv1.HorizontalPodAutoscalerStatus{}
		},
		CopyStatus: func(dst, src *autoscalerv1.HorizontalPodAutoscaler) { dst.Status = src.Status },
		SpecEqual:  func(a, b *autoscalerv1.HorizontalPodAutoscaler) bool { return proto.Equal(a.Spec, b.Spec) },
	}
}

// Server serves HorizontalPodAutoscalerService.
type Server struct {
	autoscalerv1.UnimplementedHorizontalPodAutoscalerServiceServer
	R *crud.Resource[*autoscalerv1.HorizontalPodAutoscaler]
}

const bodyRequired = "a HorizontalPodAutoscaler is required in the request body"

// CreateHorizontalPodAutoscaler stores a new autoscaler.
func (s *Server) CreateHorizontalPodAutoscaler(ctx context.Context, req *autoscalerv1.CreateHorizontalPodAutoscalerRequest) (*autoscalerv1.CreateHorizontalPodAutoscalerResponse, error) {
	if req.GetHorizontalPodAutoscaler() == nil {
		return nil, apierr.BadRequest(bodyRequired)
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetHorizontalPodAutoscaler(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &autoscalerv1.CreateHorizontalPodAutoscalerResponse{HorizontalPodAutoscaler: out}, nil
}

// GetHorizontalPodAutoscaler returns one autoscaler.
func (s *Server) GetHorizontalPodAutoscaler(ctx context.Context, req *autoscalerv1.GetHorizontalPodAutoscalerRequest) (*autoscalerv1.GetHorizontalPodAutoscalerResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &autoscalerv1.GetHorizontalPodAutoscalerResponse{HorizontalPodAutoscaler: out}, nil
}

// ListHorizontalPodAutoscalers lists autoscalers.
func (s *Server) ListHorizontalPodAutoscalers(ctx context.Context, req *autoscalerv1.ListHorizontalPodAutoscalersRequest) (*autoscalerv1.ListHorizontalPodAutoscalersResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &autoscalerv1.ListHorizontalPodAutoscalersResponse{ApiVersion: APIVersionV2, Kind: Kind + "List",
		Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateHorizontalPodAutoscaler replaces an autoscaler.
func (s *Server) UpdateHorizontalPodAutoscaler(ctx context.Context, req *autoscalerv1.UpdateHorizontalPodAutoscalerRequest) (*autoscalerv1.UpdateHorizontalPodAutoscalerResponse, error) {
	if req.GetHorizontalPodAutoscaler() == nil {
		return nil, apierr.BadRequest(bodyRequired)
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), req.GetHorizontalPodAutoscaler(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &autoscalerv1.UpdateHorizontalPodAutoscalerResponse{HorizontalPodAutoscaler: out}, nil
}

// UpdateHorizontalPodAutoscalerStatus replaces the status subresource.
func (s *Server) UpdateHorizontalPodAutoscalerStatus(ctx context.Context, req *autoscalerv1.UpdateHorizontalPodAutoscalerStatusRequest) (*autoscalerv1.UpdateHorizontalPodAutoscalerStatusResponse, error) {
	if req.GetHorizontalPodAutoscaler() == nil {
		return nil, apierr.BadRequest(bodyRequired)
	}
	out, err := s.R.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), req.GetHorizontalPodAutoscaler(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &autoscalerv1.UpdateHorizontalPodAutoscalerStatusResponse{HorizontalPodAutoscaler: out}, nil
}

// DeleteHorizontalPodAutoscaler deletes an autoscaler.
func (s *Server) DeleteHorizontalPodAutoscaler(ctx context.Context, req *autoscalerv1.DeleteHorizontalPodAutoscalerRequest) (*autoscalerv1.DeleteHorizontalPodAutoscalerResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &autoscalerv1.DeleteHorizontalPodAutoscalerResponse{Status: st}, nil
}

// WatchHorizontalPodAutoscalers streams changes.
func (s *Server) WatchHorizontalPodAutoscalers(req *autoscalerv1.WatchHorizontalPodAutoscalersRequest, stream autoscalerv1.HorizontalPodAutoscalerService_WatchHorizontalPodAutoscalersServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, h *autoscalerv1.HorizontalPodAutoscaler) error {
			return stream.Send(&autoscalerv1.WatchHorizontalPodAutoscalersResponse{Type: typ, Object: h})
		})
}

// WatchHorizontalPodAutoscalersV1 streams the same changes with each object as
// autoscaling/v1 (a bookmark as a bookmark: its type meta and metadata).
func (s *Server) WatchHorizontalPodAutoscalersV1(req *autoscalerv1.WatchHorizontalPodAutoscalersV1Request, stream autoscalerv1.HorizontalPodAutoscalerService_WatchHorizontalPodAutoscalersV1Server) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, h *autoscalerv1.HorizontalPodAutoscaler) error {
			obj := &autoscalerv1.HorizontalPodAutoscalerV1{ApiVersion: APIVersionV1, Kind: Kind, Metadata: h.GetMetadata()}
			if typ != watch.Bookmark {
				obj = ToV1(h)
			}
			return stream.Send(&autoscalerv1.WatchHorizontalPodAutoscalersV1Response{Type: typ, Object: obj})
		})
}

func checkV1TypeMeta(h *autoscalerv1.HorizontalPodAutoscalerV1) error {
	if (h.GetApiVersion() != "" && h.GetApiVersion() != APIVersionV1) || (h.GetKind() != "" && h.GetKind() != Kind) {
		return apierr.BadRequest(fmt.Sprintf("the API version in the data (%s) or kind (%s) does not match the expected API version (%s) and kind (%s) of this endpoint",
			h.GetApiVersion(), h.GetKind(), APIVersionV1, Kind))
	}
	return nil
}

// CreateHorizontalPodAutoscalerV1 creates from an autoscaling/v1 object.
func (s *Server) CreateHorizontalPodAutoscalerV1(ctx context.Context, req *autoscalerv1.CreateHorizontalPodAutoscalerV1Request) (*autoscalerv1.CreateHorizontalPodAutoscalerV1Response, error) {
	in := req.GetHorizontalPodAutoscaler()
	if in == nil {
		return nil, apierr.BadRequest(bodyRequired)
	}
	if err := checkV1TypeMeta(in); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), ToV2(in, nil), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &autoscalerv1.CreateHorizontalPodAutoscalerV1Response{HorizontalPodAutoscaler: ToV1(out)}, nil
}

// GetHorizontalPodAutoscalerV1 returns one autoscaler as autoscaling/v1.
func (s *Server) GetHorizontalPodAutoscalerV1(ctx context.Context, req *autoscalerv1.GetHorizontalPodAutoscalerV1Request) (*autoscalerv1.GetHorizontalPodAutoscalerV1Response, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &autoscalerv1.GetHorizontalPodAutoscalerV1Response{HorizontalPodAutoscaler: ToV1(out)}, nil
}

// ListHorizontalPodAutoscalersV1 lists autoscalers as autoscaling/v1.
func (s *Server) ListHorizontalPodAutoscalersV1(ctx context.Context, req *autoscalerv1.ListHorizontalPodAutoscalersV1Request) (*autoscalerv1.ListHorizontalPodAutoscalersV1Response, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	out := &autoscalerv1.ListHorizontalPodAutoscalersV1Response{ApiVersion: APIVersionV1, Kind: Kind + "List", Metadata: res.Meta}
	for _, h := range res.Items {
		out.Items = append(out.Items, ToV1(h))
	}
	return out, nil
}

// UpdateHorizontalPodAutoscalerV1 replaces an autoscaler from an autoscaling/v1 object,
// keeping what v1 cannot express (other metrics, behavior).
func (s *Server) UpdateHorizontalPodAutoscalerV1(ctx context.Context, req *autoscalerv1.UpdateHorizontalPodAutoscalerV1Request) (*autoscalerv1.UpdateHorizontalPodAutoscalerV1Response, error) {
	in := req.GetHorizontalPodAutoscaler()
	if in == nil {
		return nil, apierr.BadRequest(bodyRequired)
	}
	if err := checkV1TypeMeta(in); err != nil {
		return nil, err
	}
	stored, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), ToV2(in, stored), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &autoscalerv1.UpdateHorizontalPodAutoscalerV1Response{HorizontalPodAutoscaler: ToV1(out)}, nil
}
