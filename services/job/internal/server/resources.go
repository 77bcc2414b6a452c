// Package server implements the job service's gRPC API: validation, defaults
// and storage through shared/crud; no reconcile decisions are made here.
package server

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/job/internal/api"
	"github.com/podwarden/podwarden/services/job/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// Resources are the two kinds with Kubernetes' API semantics.
type Resources struct {
	Jobs     *crud.Resource[*jobv1.Job]
	CronJobs *crud.Resource[*jobv1.CronJob]
	DB       *store.DB
	Now      func() time.Time
}

// NewResources describes the kinds over db.
func NewResources(db *store.DB, hub *watch.Hub, now func() time.Time) *Resources {
	r := &Resources{DB: db, Now: now}
	r.Jobs = &crud.Resource[*jobv1.Job]{
		Kind: kinds.Jobs, APIVersion: "batch/v1", KindName: "Job", Namespaced: true,
		GR: apierr.GroupResource{Group: "batch", Resource: "jobs"}, GK: apierr.GroupKind{Group: "batch", Kind: "Job"},
		DB: db, Hub: hub, Now: now, Foreground: true,
		TypeMeta:    func(j *jobv1.Job) (*string, *string) { return &j.ApiVersion, &j.Kind },
		Default:     api.DefaultJob,
		Validate:    api.ValidateJob,
		ResetStatus: func(j *jobv1.Job) { j.Status = &jobv1.JobStatus{} },
		CopyStatus:  func(dst, src *jobv1.Job) { dst.Status = src.Status },
		SpecEqual:   func(a, b *jobv1.Job) bool { return proto.Equal(a.Spec, b.Spec) },
		// kube-apiserver's Job strategy: status.successful is status.succeeded.
		Fields: func(j *jobv1.Job) map[string]string {
			return map[string]string{"status.successful": strconv.Itoa(int(j.GetStatus().GetSucceeded()))}
		},
		OrphanDependents: func(ctx context.Context, tx pgx.Tx, j *jobv1.Job) error {
			return orphanPods(ctx, tx, j.Metadata, now())
		},
	}
	r.CronJobs = &crud.Resource[*jobv1.CronJob]{
		Kind: kinds.CronJobs, APIVersion: "batch/v1", KindName: "CronJob", Namespaced: true,
		GR: apierr.GroupResource{Group: "batch", Resource: "cronjobs"}, GK: apierr.GroupKind{Group: "batch", Kind: "CronJob"},
		DB: db, Hub: hub, Now: now, Foreground: true,
		TypeMeta:    func(c *jobv1.CronJob) (*string, *string) { return &c.ApiVersion, &c.Kind },
		Default:     api.DefaultCronJob,
		Validate:    api.ValidateCronJob,
		ResetStatus: func(c *jobv1.CronJob) { c.Status = &jobv1.CronJobStatus{} },
		CopyStatus:  func(dst, src *jobv1.CronJob) { dst.Status = src.Status },
		SpecEqual:   func(a, b *jobv1.CronJob) bool { return proto.Equal(a.Spec, b.Spec) },
		OrphanDependents: func(ctx context.Context, tx pgx.Tx, c *jobv1.CronJob) error {
			return orphanJobs(ctx, tx, c.Metadata)
		},
	}
	return r
}

// v1beta1Error rejects batch/v1beta1 objects: Kubernetes stopped serving
// batch/v1beta1 CronJob in 1.25, and its fields are those of batch/v1.
func v1beta1Error(apiVersion, kind string) error {
	if !api.IsV1beta1(apiVersion) {
		return nil
	}
	return apierr.BadRequest(fmt.Sprintf("%s %s is no longer served (removed in Kubernetes 1.25): use apiVersion batch/v1, whose fields are the same", apiVersion, kind))
}

func orphanJobs(ctx context.Context, tx pgx.Tx, owner *corev1.ObjectMeta) error {
	jobs, err := kinds.Jobs.List(ctx, tx, store.ListOptions{Namespace: owner.Namespace, OwnerUID: owner.Uid, ForUpdate: true})
	if err != nil {
		return apierr.Internal(err)
	}
	for _, j := range jobs {
		if podview.DropOwner(j.Metadata, owner.Uid) {
			j.Metadata.ResourceVersion = ""
			if _, err := kinds.Jobs.Update(ctx, tx, j); err != nil {
				return apierr.Internal(err)
			}
		}
	}
	return nil
}

// orphanPods releases the pods of a Job: their ownerReference to it is removed
// in this service's view and, through a pod UPDATE command, in the node service.
func orphanPods(ctx context.Context, tx pgx.Tx, owner *corev1.ObjectMeta, now time.Time) error {
	if err := podview.Orphan(ctx, tx, owner, now); err != nil {
		return apierr.Internal(err)
	}
	return nil
}

// streamWatch adapts a watch to a gRPC stream sender.
func streamWatch[T store.Object, R any](stream grpc.ServerStream, res *crud.Resource[T], ns string, req crud.WatchRequest, mk func(string, T) R, send func(R) error) error {
	return res.ServeWatch(stream, ns, req, func(typ string, obj T) error { return send(mk(typ, obj)) })
}

func listRV(rv string) *corev1.ListMeta { return &corev1.ListMeta{ResourceVersion: rv} }
