// Package server implements the daemonset service's gRPC API: validation, defaults
// and storage through shared/crud, history and rollback; no reconcile decisions.
package server

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/services/daemonset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// NewResource describes DaemonSets with Kubernetes' API semantics over db.
func NewResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*daemonsetv1.DaemonSet] {
	return &crud.Resource[*daemonsetv1.DaemonSet]{
		Kind: kinds.DaemonSets, APIVersion: "apps/v1", KindName: "DaemonSet", Namespaced: true,
		GR: apierr.GroupResource{Group: "apps", Resource: "daemonsets"}, GK: apierr.GroupKind{Group: "apps", Kind: "DaemonSet"},
		DB: db, Hub: hub, Now: now, Foreground: true,
		TypeMeta:    func(d *daemonsetv1.DaemonSet) (*string, *string) { return &d.ApiVersion, &d.Kind },
		Default:     defaultDaemonSet,
		Validate:    validateDaemonSet,
		ResetStatus: func(d *daemonsetv1.DaemonSet) { d.Status = emptyStatus() },
		CopyStatus:  func(dst, src *daemonsetv1.DaemonSet) { dst.Status = src.Status },
		SpecEqual:   func(a, b *daemonsetv1.DaemonSet) bool { return proto.Equal(a.Spec, b.Spec) },
		OrphanDependents: func(ctx context.Context, tx pgx.Tx, d *daemonsetv1.DaemonSet) error {
			return orphanDependents(ctx, tx, d.Metadata, now())
		},
	}
}

// emptyStatus is a new DaemonSet's status: Kubernetes always shows the four counts.
func emptyStatus() *daemonsetv1.DaemonSetStatus {
	return &daemonsetv1.DaemonSetStatus{CurrentNumberScheduled: proto.Int32(0), NumberMisscheduled: proto.Int32(0),
		DesiredNumberScheduled: proto.Int32(0), NumberReady: proto.Int32(0)}
}

// orphanDependents releases the DaemonSet's pods (in the view and, through a pod
// UPDATE command, in the node service) and its ControllerRevisions.
func orphanDependents(ctx context.Context, tx pgx.Tx, owner *corev1.ObjectMeta, now time.Time) error {
	if err := podview.Orphan(ctx, tx, owner, now); err != nil {
		return apierr.Internal(err)
	}
	crs, err := kinds.ControllerRevisions.List(ctx, tx, store.ListOptions{Namespace: owner.Namespace, OwnerUID: owner.Uid, ForUpdate: true})
	if err != nil {
		return apierr.Internal(err)
	}
	for _, cr := range crs {
		if podview.DropOwner(cr.Metadata, owner.Uid) {
			cr.Metadata.ResourceVersion = ""
			if _, err := kinds.ControllerRevisions.Update(ctx, tx, cr); err != nil {
				return apierr.Internal(err)
			}
		}
	}
	return nil
}

// DaemonSetServer serves DaemonSetService.
type DaemonSetServer struct {
	daemonsetv1.UnimplementedDaemonSetServiceServer
	R *crud.Resource[*daemonsetv1.DaemonSet]
}

func required(ds *daemonsetv1.DaemonSet) error {
	if ds == nil {
		return apierr.BadRequest("a DaemonSet is required in the request body")
	}
	return nil
}

// CreateDaemonSet stores a new DaemonSet.
func (s *DaemonSetServer) CreateDaemonSet(ctx context.Context, req *daemonsetv1.CreateDaemonSetRequest) (*daemonsetv1.CreateDaemonSetResponse, error) {
	if err := required(req.GetDaemonSet()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetDaemonSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.CreateDaemonSetResponse{DaemonSet: out}, nil
}

// GetDaemonSet returns one DaemonSet.
func (s *DaemonSetServer) GetDaemonSet(ctx context.Context, req *daemonsetv1.GetDaemonSetRequest) (*daemonsetv1.GetDaemonSetResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.GetDaemonSetResponse{DaemonSet: out}, nil
}

// ListDaemonSets lists DaemonSets.
func (s *DaemonSetServer) ListDaemonSets(ctx context.Context, req *daemonsetv1.ListDaemonSetsRequest) (*daemonsetv1.ListDaemonSetsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.ListDaemonSetsResponse{ApiVersion: "apps/v1", Kind: "DaemonSetList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateDaemonSet replaces a DaemonSet.
func (s *DaemonSetServer) UpdateDaemonSet(ctx context.Context, req *daemonsetv1.UpdateDaemonSetRequest) (*daemonsetv1.UpdateDaemonSetResponse, error) {
	if err := required(req.GetDaemonSet()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), req.GetDaemonSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.UpdateDaemonSetResponse{DaemonSet: out}, nil
}

// UpdateDaemonSetStatus replaces the status subresource.
func (s *DaemonSetServer) UpdateDaemonSetStatus(ctx context.Context, req *daemonsetv1.UpdateDaemonSetStatusRequest) (*daemonsetv1.UpdateDaemonSetStatusResponse, error) {
	if err := required(req.GetDaemonSet()); err != nil {
		return nil, err
	}
	out, err := s.R.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), req.GetDaemonSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.UpdateDaemonSetStatusResponse{DaemonSet: out}, nil
}

// DeleteDaemonSet deletes with a propagation policy.
func (s *DaemonSetServer) DeleteDaemonSet(ctx context.Context, req *daemonsetv1.DeleteDaemonSetRequest) (*daemonsetv1.DeleteDaemonSetResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.DeleteDaemonSetResponse{Status: st}, nil
}

// WatchDaemonSets streams changes.
func (s *DaemonSetServer) WatchDaemonSets(req *daemonsetv1.WatchDaemonSetsRequest, stream daemonsetv1.DaemonSetService_WatchDaemonSetsServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, obj *daemonsetv1.DaemonSet) error {
			return stream.Send(&daemonsetv1.WatchDaemonSetsResponse{Type: typ, Object: obj})
		})
}

// history serves the history RPCs (shared/revisions).
func (s *DaemonSetServer) history() revisions.Handlers[*daemonsetv1.DaemonSet, *daemonsetv1.DaemonSetRevision] {
	return revisions.Handlers[*daemonsetv1.DaemonSet, *daemonsetv1.DaemonSetRevision]{
		R:           s.R,
		Template:    func(o *daemonsetv1.DaemonSet) *corev1.PodTemplateSpec { return o.GetSpec().GetTemplate() },
		SetTemplate: func(o *daemonsetv1.DaemonSet, t *corev1.PodTemplateSpec) { o.Spec.Template = t },
		Entry:       reconcile.HistoryEntry,
	}
}

// ListDaemonSetHistory is `kubectl rollout history daemonset`.
func (s *DaemonSetServer) ListDaemonSetHistory(ctx context.Context, req *daemonsetv1.ListDaemonSetHistoryRequest) (*daemonsetv1.ListDaemonSetHistoryResponse, error) {
	items, err := s.history().History(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.ListDaemonSetHistoryResponse{Items: items}, nil
}

// GetDaemonSetRevision is `kubectl rollout history daemonset --revision=N`.
func (s *DaemonSetServer) GetDaemonSetRevision(ctx context.Context, req *daemonsetv1.GetDaemonSetRevisionRequest) (*daemonsetv1.GetDaemonSetRevisionResponse, error) {
	r, err := s.history().Revision(ctx, req.GetNamespace(), req.GetName(), req.GetRevision())
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.GetDaemonSetRevisionResponse{Revision: r}, nil
}

// RollbackDaemonSet is `kubectl rollout undo daemonset`: the revision's template
// becomes the DaemonSet's template again (and so its revision the newest).
func (s *DaemonSetServer) RollbackDaemonSet(ctx context.Context, req *daemonsetv1.RollbackDaemonSetRequest) (*daemonsetv1.RollbackDaemonSetResponse, error) {
	out, msg, err := s.history().Rollback(ctx, req.GetNamespace(), req.GetName(), req.GetRevision())
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.RollbackDaemonSetResponse{DaemonSet: out, Message: msg}, nil
}

// ListControllerRevisions lists ControllerRevisions.
func (s *DaemonSetServer) ListControllerRevisions(ctx context.Context, req *daemonsetv1.ListControllerRevisionsRequest) (*daemonsetv1.ListControllerRevisionsResponse, error) {
	res, err := revisions.Resource(s.R.DB, s.R.Hub).List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &daemonsetv1.ListControllerRevisionsResponse{ApiVersion: "apps/v1", Kind: "ControllerRevisionList", Metadata: res.Meta, Items: res.Items}, nil
}

// WatchControllerRevisions streams ControllerRevision changes.
func (s *DaemonSetServer) WatchControllerRevisions(req *daemonsetv1.WatchControllerRevisionsRequest, stream daemonsetv1.DaemonSetService_WatchControllerRevisionsServer) error {
	return revisions.Resource(s.R.DB, s.R.Hub).ServeWatch(stream, req.GetNamespace(), req,
		func(t string, cr *revisions.Revision) error {
			return stream.Send(&daemonsetv1.WatchControllerRevisionsResponse{Type: t, Object: cr})
		})
}

// GetDaemonSetRolloutStatus answers like one line of `kubectl rollout status daemonset`.
func (s *DaemonSetServer) GetDaemonSetRolloutStatus(ctx context.Context, req *daemonsetv1.GetDaemonSetRolloutStatusRequest) (*daemonsetv1.GetDaemonSetRolloutStatusResponse, error) {
	ds, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	msg, done, err := reconcile.RolloutStatus(ds)
	if err != nil {
		return nil, apierr.BadRequest(err.Error())
	}
	return &daemonsetv1.GetDaemonSetRolloutStatusResponse{Done: done, Message: msg}, nil
}
