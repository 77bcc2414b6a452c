package server

import (
	"context"

	"github.com/podwarden/podwarden/shared/crud"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/labels"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// ReplicationControllerServer serves ReplicationControllerService.
type ReplicationControllerServer struct {
	deploymentv1.UnimplementedReplicationControllerServiceServer
	R *Resources
}

// CreateReplicationController stores a new ReplicationController.
func (s *ReplicationControllerServer) CreateReplicationController(ctx context.Context, req *deploymentv1.CreateReplicationControllerRequest) (*deploymentv1.CreateReplicationControllerResponse, error) {
	if req.GetReplicationController() == nil {
		return nil, apierr.BadRequest("a ReplicationController is required in the request body")
	}
	out, err := s.R.ReplicationControllers.Create(ctx, req.GetNamespace(), req.GetReplicationController(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.CreateReplicationControllerResponse{ReplicationController: out}, nil
}

// GetReplicationController returns one ReplicationController.
func (s *ReplicationControllerServer) GetReplicationController(ctx context.Context, req *deploymentv1.GetReplicationControllerRequest) (*deploymentv1.GetReplicationControllerResponse, error) {
	out, err := s.R.ReplicationControllers.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.GetReplicationControllerResponse{ReplicationController: out}, nil
}

// ListReplicationControllers lists ReplicationControllers.
func (s *ReplicationControllerServer) ListReplicationControllers(ctx context.Context, req *deploymentv1.ListReplicationControllersRequest) (*deploymentv1.ListReplicationControllersResponse, error) {
	res, err := s.R.ReplicationControllers.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &deploymentv1.ListReplicationControllersResponse{ApiVersion: "v1", Kind: "ReplicationControllerList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateReplicationController replaces a ReplicationController.
func (s *ReplicationControllerServer) UpdateReplicationController(ctx context.Context, req *deploymentv1.UpdateReplicationControllerRequest) (*deploymentv1.UpdateReplicationControllerResponse, error) {
	if req.GetReplicationController() == nil {
		return nil, apierr.BadRequest("a ReplicationController is required in the request body")
	}
	out, err := s.R.ReplicationControllers.Update(ctx, req.GetNamespace(), req.GetName(), req.GetReplicationController(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.UpdateReplicationControllerResponse{ReplicationController: out}, nil
}

// UpdateReplicationControllerStatus replaces the status subresource.
func (s *ReplicationControllerServer) UpdateReplicationControllerStatus(ctx context.Context, req *deploymentv1.UpdateReplicationControllerStatusRequest) (*deploymentv1.UpdateReplicationControllerStatusResponse, error) {
	if req.GetReplicationController() == nil {
		return nil, apierr.BadRequest("a ReplicationController is required in the request body")
	}
	out, err := s.R.ReplicationControllers.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), req.GetReplicationController(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.UpdateReplicationControllerStatusResponse{ReplicationController: out}, nil
}

// DeleteReplicationController deletes with a propagation policy.
func (s *ReplicationControllerServer) DeleteReplicationController(ctx context.Context, req *deploymentv1.DeleteReplicationControllerRequest) (*deploymentv1.DeleteReplicationControllerResponse, error) {
	st, _, err := s.R.ReplicationControllers.Delete(ctx, req.GetNamespace(), req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.DeleteReplicationControllerResponse{Status: st}, nil
}

// GetReplicationControllerScale reads the scale subresource.
func (s *ReplicationControllerServer) GetReplicationControllerScale(ctx context.Context, req *deploymentv1.GetReplicationControllerScaleRequest) (*deploymentv1.GetReplicationControllerScaleResponse, error) {
	o, err := s.R.ReplicationControllers.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.GetReplicationControllerScaleResponse{Scale: scaleOf(o.Metadata, o.Spec.GetReplicas(), o.GetStatus().GetReplicas(), labels.FromMap(o.Spec.GetSelector()))}, nil
}

// UpdateReplicationControllerScale writes spec.replicas through the scale subresource.
func (s *ReplicationControllerServer) UpdateReplicationControllerScale(ctx context.Context, req *deploymentv1.UpdateReplicationControllerScaleRequest) (*deploymentv1.UpdateReplicationControllerScaleResponse, error) {
	o, err := s.R.ReplicationControllers.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkScale(req.GetScale(), s.R.ReplicationControllers.GK, o.Metadata); err != nil {
		return nil, err
	}
	o.Spec.Replicas = int32p(req.GetScale().GetSpec().GetReplicas())
	// A Scale without resourceVersion is an unconditional write (checkScale compared a given one).
	o.Metadata.ResourceVersion = ""
	crud.KeepScaleManagers(req.GetScale(), o.Metadata)
	out, err := s.R.ReplicationControllers.Update(ctx, req.GetNamespace(), req.GetName(), o, req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.UpdateReplicationControllerScaleResponse{Scale: scaleOf(out.Metadata, out.Spec.GetReplicas(), out.GetStatus().GetReplicas(), labels.FromMap(out.Spec.GetSelector()))}, nil
}

// WatchReplicationControllers streams changes.
func (s *ReplicationControllerServer) WatchReplicationControllers(req *deploymentv1.WatchReplicationControllersRequest, stream deploymentv1.ReplicationControllerService_WatchReplicationControllersServer) error {
	return streamWatch(stream, s.R.ReplicationControllers, req.GetNamespace(), req,
		func(t string, o *deploymentv1.ReplicationController) *deploymentv1.WatchReplicationControllersResponse {
			return &deploymentv1.WatchReplicationControllersResponse{Type: t, Object: o}
		}, stream.Send)
}
