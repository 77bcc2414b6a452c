package server

import (
	"context"
	"github.com/podwarden/podwarden/shared/crud"

	"github.com/podwarden/podwarden/shared/apierr"

	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// JobServer serves JobService.
type JobServer struct {
	jobv1.UnimplementedJobServiceServer
	R *Resources
}

// CreateJob stores a new Job.
func (s *JobServer) CreateJob(ctx context.Context, req *jobv1.CreateJobRequest) (*jobv1.CreateJobResponse, error) {
	if req.GetJob() == nil {
		return nil, apierr.BadRequest("a Job is required in the request body")
	}
	if err := v1beta1Error(req.GetJob().GetApiVersion(), "Job"); err != nil {
		return nil, err
	}
	out, err := s.R.Jobs.Create(ctx, req.GetNamespace(), req.GetJob(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &jobv1.CreateJobResponse{Job: out}, nil
}

// GetJob returns one Job.
func (s *JobServer) GetJob(ctx context.Context, req *jobv1.GetJobRequest) (*jobv1.GetJobResponse, error) {
	out, err := s.R.Jobs.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &jobv1.GetJobResponse{Job: out}, nil
}

// ListJobs lists Jobs.
func (s *JobServer) ListJobs(ctx context.Context, req *jobv1.ListJobsRequest) (*jobv1.ListJobsResponse, error) {
	res, err := s.R.Jobs.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &jobv1.ListJobsResponse{ApiVersion: "batch/v1", Kind: "JobList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateJob replaces a Job.
func (s *JobServer) UpdateJob(ctx context.Context, req *jobv1.UpdateJobRequest) (*jobv1.UpdateJobResponse, error) {
	if req.GetJob() == nil {
		return nil, apierr.BadRequest("a Job is required in the request body")
	}
	if err := v1beta1Error(req.GetJob().GetApiVersion(), "Job"); err != nil {
		return nil, err
	}
	out, err := s.R.Jobs.Update(ctx, req.GetNamespace(), req.GetName(), req.GetJob(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &jobv1.UpdateJobResponse{Job: out}, nil
}

// UpdateJobStatus replaces the status subresource.
func (s *JobServer) UpdateJobStatus(ctx context.Context, req *jobv1.UpdateJobStatusRequest) (*jobv1.UpdateJobStatusResponse, error) {
	if req.GetJob() == nil {
		return nil, apierr.BadRequest("a Job is required in the request body")
	}
	out, err := s.R.Jobs.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), req.GetJob(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &jobv1.UpdateJobStatusResponse{Job: out}, nil
}

// DeleteJob deletes with a propagation policy.
func (s *JobServer) DeleteJob(ctx context.Context, req *jobv1.DeleteJobRequest) (*jobv1.DeleteJobResponse, error) {
	st, _, err := s.R.Jobs.Delete(ctx, req.GetNamespace(), req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &jobv1.DeleteJobResponse{Status: st}, nil
}

// WatchJobs streams changes.
func (s *JobServer) WatchJobs(req *jobv1.WatchJobsRequest, stream jobv1.JobService_WatchJobsServer) error {
	return streamWatch(stream, s.R.Jobs, req.GetNamespace(), req,
		func(t string, o *jobv1.Job) *jobv1.WatchJobsResponse {
			return &jobv1.WatchJobsResponse{Type: t, Object: o}
		}, stream.Send)
}
