package server

import (
	"context"
	"time"

	"github.com/podwarden/podwarden/shared/crud"

	"google.golang.org/grpc/metadata"

	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/services/deployment/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/store"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// DeploymentServer serves DeploymentService.
type DeploymentServer struct {
	deploymentv1.UnimplementedDeploymentServiceServer
	R *Resources
}

// CreateDeployment stores a new Deployment.
func (s *DeploymentServer) CreateDeployment(ctx context.Context, req *deploymentv1.CreateDeploymentRequest) (*deploymentv1.CreateDeploymentResponse, error) {
	d := req.GetDeployment()
	if d == nil {
		return nil, apierr.BadRequest("a Deployment is required in the request body")
	}
	out, err := s.R.Deployments.Create(ctx, req.GetNamespace(), d, req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.CreateDeploymentResponse{Deployment: out}, nil
}

// GetDeployment returns one Deployment.
func (s *DeploymentServer) GetDeployment(ctx context.Context, req *deploymentv1.GetDeploymentRequest) (*deploymentv1.GetDeploymentResponse, error) {
	d, err := s.R.Deployments.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.GetDeploymentResponse{Deployment: d}, nil
}

// ListDeployments lists Deployments.
func (s *DeploymentServer) ListDeployments(ctx context.Context, req *deploymentv1.ListDeploymentsRequest) (*deploymentv1.ListDeploymentsResponse, error) {
	res, err := s.R.Deployments.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &deploymentv1.ListDeploymentsResponse{ApiVersion: "apps/v1", Kind: "DeploymentList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateDeployment replaces a Deployment.
func (s *DeploymentServer) UpdateDeployment(ctx context.Context, req *deploymentv1.UpdateDeploymentRequest) (*deploymentv1.UpdateDeploymentResponse, error) {
	if req.GetDeployment() == nil {
		return nil, apierr.BadRequest("a Deployment is required in the request body")
	}
	out, err := s.R.Deployments.Update(ctx, req.GetNamespace(), req.GetName(), req.GetDeployment(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.UpdateDeploymentResponse{Deployment: out}, nil
}

// UpdateDeploymentStatus replaces the status subresource.
func (s *DeploymentServer) UpdateDeploymentStatus(ctx context.Context, req *deploymentv1.UpdateDeploymentStatusRequest) (*deploymentv1.UpdateDeploymentStatusResponse, error) {
	if req.GetDeployment() == nil {
		return nil, apierr.BadRequest("a Deployment is required in the request body")
	}
	out, err := s.R.Deployments.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), req.GetDeployment(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.UpdateDeploymentStatusResponse{Deployment: out}, nil
}

// DeleteDeployment deletes with a propagation policy.
func (s *DeploymentServer) DeleteDeployment(ctx context.Context, req *deploymentv1.DeleteDeploymentRequest) (*deploymentv1.DeleteDeploymentResponse, error) {
	st, _, err := s.R.Deployments.Delete(ctx, req.GetNamespace(), req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.DeleteDeploymentResponse{Status: st}, nil
}

// GetDeploymentScale reads the scale subresource.
func (s *DeploymentServer) GetDeploymentScale(ctx context.Context, req *deploymentv1.GetDeploymentScaleRequest) (*deploymentv1.GetDeploymentScaleResponse, error) {
	d, err := s.R.Deployments.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.GetDeploymentScaleResponse{Scale: scaleOf(d.Metadata, d.Spec.GetReplicas(), d.GetStatus().GetReplicas(), d.Spec.GetSelector())}, nil
}

// UpdateDeploymentScale writes spec.replicas through the scale subresource.
func (s *DeploymentServer) UpdateDeploymentScale(ctx context.Context, req *deploymentv1.UpdateDeploymentScaleRequest) (*deploymentv1.UpdateDeploymentScaleResponse, error) {
	d, err := s.R.Deployments.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkScale(req.GetScale(), s.R.Deployments.GK, d.Metadata); err != nil {
		return nil, err
	}
	d.Spec.Replicas = int32p(req.GetScale().GetSpec().GetReplicas())
	// A Scale without resourceVersion is an unconditional write (checkScale compared a given one).
	d.Metadata.ResourceVersion = ""
	crud.KeepScaleManagers(req.GetScale(), d.Metadata)
	out, err := s.R.Deployments.Update(ctx, req.GetNamespace(), req.GetName(), d, req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.UpdateDeploymentScaleResponse{Scale: scaleOf(out.Metadata, out.Spec.GetReplicas(), out.GetStatus().GetReplicas(), out.Spec.GetSelector())}, nil
}

// WatchDeployments streams changes.
func (s *DeploymentServer) WatchDeployments(req *deploymentv1.WatchDeploymentsRequest, stream deploymentv1.DeploymentService_WatchDeploymentsServer) error {
	return streamWatch(stream, s.R.Deployments, req.GetNamespace(), req,
		func(t string, o *deploymentv1.Deployment) *deploymentv1.WatchDeploymentsResponse {
			return &deploymentv1.WatchDeploymentsResponse{Type: t, Object: o}
		}, stream.Send)
}

// deploymentWithReplicaSets reads a Deployment and the ReplicaSets it controls.
func (s *DeploymentServer) deploymentWithReplicaSets(ctx context.Context, ns, name string) (*deploymentv1.Deployment, []*deploymentv1.ReplicaSet, error) {
	d, err := s.R.Deployments.Get(ctx, ns, name)
	if err != nil {
		return nil, nil, err
	}
	rsList, err := kinds.ReplicaSets.List(ctx, s.R.DB.Pool, store.ListOptions{Namespace: d.Metadata.Namespace, OwnerUID: d.Metadata.Uid})
	if err != nil {
		return nil, nil, apierr.Internal(err)
	}
	return d, rsList, nil
}

// ListDeploymentHistory is `kubectl rollout history`.
func (s *DeploymentServer) ListDeploymentHistory(ctx context.Context, req *deploymentv1.ListDeploymentHistoryRequest) (*deploymentv1.ListDeploymentHistoryResponse, error) {
	d, rsList, err := s.deploymentWithReplicaSets(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &deploymentv1.ListDeploymentHistoryResponse{Items: reconcile.History(d, rsList)}, nil
}

// GetDeploymentRevision is `kubectl rollout history --revision=N`.
func (s *DeploymentServer) GetDeploymentRevision(ctx context.Context, req *deploymentv1.GetDeploymentRevisionRequest) (*deploymentv1.GetDeploymentRevisionResponse, error) {
	d, rsList, err := s.deploymentWithReplicaSets(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	rev, err := reconcile.HistoryRevision(d, rsList, req.GetRevision())
	if err != nil {
		return nil, apierr.NotFound(apierr.GroupResource{Group: "apps", Resource: "deployments/history"}, err.Error())
	}
	return &deploymentv1.GetDeploymentRevisionResponse{Revision: rev}, nil
}

// RollbackDeployment is `kubectl rollout undo`: the template of the revision becomes
// the Deployment's template again (and so gets the next revision number).
func (s *DeploymentServer) RollbackDeployment(ctx context.Context, req *deploymentv1.RollbackDeploymentRequest) (*deploymentv1.RollbackDeploymentResponse, error) {
	d, rsList, err := s.deploymentWithReplicaSets(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	rb, err := reconcile.PlanRollback(d, rsList, req.GetRevision())
	if err != nil {
		return nil, apierr.BadRequest(err.Error())
	}
	out, msg := d, rb.Message
	if !rb.Skipped {
		// The read resourceVersion makes this write fail if the Deployment changed meanwhile.
		d.Spec.Template = rb.Template
		d.Metadata.Annotations = rb.Annotations
		if out, err = s.R.Deployments.Update(ctx, req.GetNamespace(), req.GetName(), d, nil); err != nil {
			return nil, err
		}
	}
	return &deploymentv1.RollbackDeploymentResponse{Deployment: out, Message: msg}, nil
}

// GetRolloutStatus answers like one line of `kubectl rollout status`.
func (s *DeploymentServer) GetRolloutStatus(ctx context.Context, req *deploymentv1.GetRolloutStatusRequest) (*deploymentv1.GetRolloutStatusResponse, error) {
	d, err := s.R.Deployments.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	msg, done, err := reconcile.RolloutStatus(d, req.GetRevision())
	if err != nil {
		return nil, apierr.BadRequest(err.Error())
	}
	return &deploymentv1.GetRolloutStatusResponse{Done: done, Message: msg}, nil
}

// WatchRolloutStatus streams `kubectl rollout status` lines until the rollout is done.
func (s *DeploymentServer) WatchRolloutStatus(req *deploymentv1.WatchRolloutStatusRequest, stream deploymentv1.DeploymentService_WatchRolloutStatusServer) error {
	ctx := stream.Context()
	if _, err := s.R.Deployments.Get(ctx, req.GetNamespace(), req.GetName()); err != nil {
		return err
	}
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	last := ""
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		wake := s.R.Hub.Wait(kinds.Deployments.Name)
		d, err := s.R.Deployments.Get(ctx, req.GetNamespace(), req.GetName())
		if err != nil {
			return err
		}
		msg, done, err := reconcile.RolloutStatus(d, req.GetRevision())
		if err != nil {
			return apierr.BadRequest(err.Error())
		}
		if msg != last || done {
			if err := stream.Send(&deploymentv1.WatchRolloutStatusResponse{Done: done, Message: msg}); err != nil {
				return err
			}
			last = msg
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		}
	}
}
