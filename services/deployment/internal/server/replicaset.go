package server

import (
	"context"

	"github.com/podwarden/podwarden/shared/crud"

	"github.com/podwarden/podwarden/shared/apierr"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// ReplicaSetServer serves ReplicaSetService.
type ReplicaSetServer struct {
	deploymentv1.UnimplementedReplicaSetServiceServer
	R *Resources
}

// CreateReplicaSet stores a new ReplicaSet.
func (s *ReplicaSetServer) CreateReplicaSet(ctx context.Context, req *deploymentv1.CreateReplicaSetRequest) (*deploymentv1.CreateReplicaSetResponse, error) {
	if req.GetReplicaSet() == nil {
		return nil, apierr.BadRequest("a ReplicaSet is required in the request body")
	}
	out, err := s.R.ReplicaSets.Create(ctx, req.GetNamespace(), req.GetReplicaSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.CreateReplicaSetResponse{ReplicaSet: out}, nil
}

// GetReplicaSet returns one ReplicaSet.
func (s *ReplicaSetServer) GetReplicaSet(ctx context.Context, req *deploymentv1.GetReplicaSetRequest) (*deploymentv1.GetReplicaSetResponse, error) {
	out, err := s.R.ReplicaSets.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.GetReplicaSetResponse{ReplicaSet: out}, nil
}

// ListReplicaSets lists ReplicaSets.
func (s *ReplicaSetServer) ListReplicaSets(ctx context.Context, req *deploymentv1.ListReplicaSetsRequest) (*deploymentv1.ListReplicaSetsResponse, error) {
	res, err := s.R.ReplicaSets.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &deploymentv1.ListReplicaSetsResponse{ApiVersion: "apps/v1", Kind: "ReplicaSetList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateReplicaSet replaces a ReplicaSet.
func (s *ReplicaSetServer) UpdateReplicaSet(ctx context.Context, req *deploymentv1.UpdateReplicaSetRequest) (*deploymentv1.UpdateReplicaSetResponse, error) {
	if req.GetReplicaSet() == nil {
		return nil, apierr.BadRequest("a ReplicaSet is required in the request body")
	}
	out, err := s.R.ReplicaSets.Update(ctx, req.GetNamespace(), req.GetName(), req.GetReplicaSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.UpdateReplicaSetResponse{ReplicaSet: out}, nil
}

// UpdateReplicaSetStatus replaces the status subresource.
func (s *ReplicaSetServer) UpdateReplicaSetStatus(ctx context.Context, req *deploymentv1.UpdateReplicaSetStatusRequest) (*deploymentv1.UpdateReplicaSetStatusResponse, error) {
	if req.GetReplicaSet() == nil {
		return nil, apierr.BadRequest("a ReplicaSet is required in the request body")
	}
	out, err := s.R.ReplicaSets.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), req.GetReplicaSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.UpdateReplicaSetStatusResponse{ReplicaSet: out}, nil
}

// DeleteReplicaSet deletes with a propagation policy.
func (s *ReplicaSetServer) DeleteReplicaSet(ctx context.Context, req *deploymentv1.DeleteReplicaSetRequest) (*deploymentv1.DeleteReplicaSetResponse, error) {
	st, _, err := s.R.ReplicaSets.Delete(ctx, req.GetNamespace(), req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.DeleteReplicaSetResponse{Status: st}, nil
}

// GetReplicaSetScale reads the scale subresource.
func (s *ReplicaSetServer) GetReplicaSetScale(ctx context.Context, req *deploymentv1.GetReplicaSetScaleRequest) (*deploymentv1.GetReplicaSetScaleResponse, error) {
	o, err := s.R.ReplicaSets.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.GetReplicaSetScaleResponse{Scale: scaleOf(o.Metadata, o.Spec.GetReplicas(), o.GetStatus().GetReplicas(), o.Spec.GetSelector())}, nil
}

// UpdateReplicaSetScale writes spec.replicas through the scale subresource.
func (s *ReplicaSetServer) UpdateReplicaSetScale(ctx context.Context, req *deploymentv1.UpdateReplicaSetScaleRequest) (*deploymentv1.UpdateReplicaSetScaleResponse, error) {
	o, err := s.R.ReplicaSets.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkScale(req.GetScale(), s.R.ReplicaSets.GK, o.Metadata); err != nil {
		return nil, err
	}
	o.Spec.Replicas = int32p(req.GetScale().GetSpec().GetReplicas())
	// A Scale without resourceVersion is an unconditional write (checkScale compared a given one).
	o.Metadata.ResourceVersion = ""
	crud.KeepScaleManagers(req.GetScale(), o.Metadata)
	out, err := s.R.ReplicaSets.Update(ctx, req.GetNamespace(), req.GetName(), o, req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.UpdateReplicaSetScaleResponse{Scale: scaleOf(out.Metadata, out.Spec.GetReplicas(), out.GetStatus().GetReplicas(), out.Spec.GetSelector())}, nil
}

// WatchReplicaSets streams changes.
func (s *ReplicaSetServer) WatchReplicaSets(req *deploymentv1.WatchReplicaSetsRequest, stream deploymentv1.ReplicaSetService_WatchReplicaSetsServer) error {
	return streamWatch(stream, s.R.ReplicaSets, req.GetNamespace(), req,
		func(t string, o *deploymentv1.ReplicaSet) *deploymentv1.WatchReplicaSetsResponse {
			return &deploymentv1.WatchReplicaSetsResponse{Type: t, Object: o}
		}, stream.Send)
}
