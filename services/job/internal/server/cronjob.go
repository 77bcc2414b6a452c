package server

import (
	"context"
	"github.com/podwarden/podwarden/shared/crud"

	"github.com/podwarden/podwarden/services/job/internal/api"
	"github.com/podwarden/podwarden/services/job/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/naming"

	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// CronJobServer serves CronJobService.
type CronJobServer struct {
	jobv1.UnimplementedCronJobServiceServer
	R *Resources
}

// CreateCronJob stores a new CronJob.
func (s *CronJobServer) CreateCronJob(ctx context.Context, req *jobv1.CreateCronJobRequest) (*jobv1.CreateCronJobResponse, error) {
	if req.GetCronJob() == nil {
		return nil, apierr.BadRequest("a CronJob is required in the request body")
	}
	if err := v1beta1Error(req.GetCronJob().GetApiVersion(), "CronJob"); err != nil {
		return nil, err
	}
	out, err := s.R.CronJobs.Create(ctx, req.GetNamespace(), req.GetCronJob(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &jobv1.CreateCronJobResponse{CronJob: out}, nil
}

// GetJob returns one CronJob.
func (s *CronJobServer) GetCronJob(ctx context.Context, req *jobv1.GetCronJobRequest) (*jobv1.GetCronJobResponse, error) {
	out, err := s.R.CronJobs.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &jobv1.GetCronJobResponse{CronJob: out}, nil
}

// ListCronJobs lists CronJobs.
func (s *CronJobServer) ListCronJobs(ctx context.Context, req *jobv1.ListCronJobsRequest) (*jobv1.ListCronJobsResponse, error) {
	res, err := s.R.CronJobs.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &jobv1.ListCronJobsResponse{ApiVersion: "batch/v1", Kind: "CronJobList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateCronJob replaces a CronJob.
func (s *CronJobServer) UpdateCronJob(ctx context.Context, req *jobv1.UpdateCronJobRequest) (*jobv1.UpdateCronJobResponse, error) {
	if req.GetCronJob() == nil {
		return nil, apierr.BadRequest("a CronJob is required in the request body")
	}
	if err := v1beta1Error(req.GetCronJob().GetApiVersion(), "CronJob"); err != nil {
		return nil, err
	}
	out, err := s.R.CronJobs.Update(ctx, req.GetNamespace(), req.GetName(), req.GetCronJob(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &jobv1.UpdateCronJobResponse{CronJob: out}, nil
}

// UpdateCronJobStatus replaces the status subresource.
func (s *CronJobServer) UpdateCronJobStatus(ctx context.Context, req *jobv1.UpdateCronJobStatusRequest) (*jobv1.UpdateCronJobStatusResponse, error) {
	if req.GetCronJob() == nil {
		return nil, apierr.BadRequest("a CronJob is required in the request body")
	}
	out, err := s.R.CronJobs.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), req.GetCronJob(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &jobv1.UpdateCronJobStatusResponse{CronJob: out}, nil
}

// DeleteCronJob deletes with a propagation policy.
func (s *CronJobServer) DeleteCronJob(ctx context.Context, req *jobv1.DeleteCronJobRequest) (*jobv1.DeleteCronJobResponse, error) {
	st, _, err := s.R.CronJobs.Delete(ctx, req.GetNamespace(), req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &jobv1.DeleteCronJobResponse{Status: st}, nil
}

// WatchCronJobs streams changes.
func (s *CronJobServer) WatchCronJobs(req *jobv1.WatchCronJobsRequest, stream jobv1.CronJobService_WatchCronJobsServer) error {
	return streamWatch(stream, s.R.CronJobs, req.GetNamespace(), req,
		func(t string, o *jobv1.CronJob) *jobv1.WatchCronJobsResponse {
			return &jobv1.WatchCronJobsResponse{Type: t, Object: o}
		}, stream.Send)
}

// TriggerCronJob creates a Job from the CronJob's template now, like `kubectl
// create job --from=cronjob/<name>`: annotated cronjob.kubernetes.io/instantiate=manual
// and controlled by the CronJob (so its history limits and status apply).
func (s *CronJobServer) TriggerCronJob(ctx context.Context, req *jobv1.TriggerCronJobRequest) (*jobv1.TriggerCronJobResponse, error) {
	cj, err := s.R.CronJobs.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	name := req.GetJobName()
	if name == "" {
		name = naming.GenerateName(cj.Metadata.Name + "-manual-")
	}
	j := reconcile.JobFromTemplate(cj, name)
	j.Metadata.Annotations[api.AnnotationInstantiate] = "manual"
	out, err := s.R.Jobs.Create(ctx, cj.Metadata.Namespace, j, nil)
	if err != nil {
		return nil, err
	}
	return &jobv1.TriggerCronJobResponse{Job: out}, nil
}
