// Package server implements the statefulset service's gRPC API: validation, defaults
// and storage through shared/crud, history and rollback; no reconcile decisions.
package server

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/services/statefulset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// NewResource describes StatefulSets with Kubernetes' API semantics over db.
func NewResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*statefulsetv1.StatefulSet] {
	return &crud.Resource[*statefulsetv1.StatefulSet]{
		Kind: kinds.StatefulSets, APIVersion: "apps/v1", KindName: "StatefulSet", Namespaced: true,
		GR: apierr.GroupResource{Group: "apps", Resource: "statefulsets"}, GK: apierr.GroupKind{Group: "apps", Kind: "StatefulSet"},
		DB: db, Hub: hub, Now: now, Foreground: true,
		TypeMeta:    func(d *statefulsetv1.StatefulSet) (*string, *string) { return &d.ApiVersion, &d.Kind },
		Default:     defaultStatefulSet,
		Validate:    validateStatefulSet,
		ResetStatus: func(d *statefulsetv1.StatefulSet) { d.Status = emptyStatus() },
		CopyStatus:  func(dst, src *statefulsetv1.StatefulSet) { dst.Status = src.Status },
		SpecEqual:   func(a, b *statefulsetv1.StatefulSet) bool { return proto.Equal(a.Spec, b.Spec) },
		OrphanDependents: func(ctx context.Context, tx pgx.Tx, d *statefulsetv1.StatefulSet) error {
			return orphanDependents(ctx, tx, d.Metadata, now())
		},
	}
}

// emptyStatus is a new StatefulSet's status: Kubernetes always shows replicas and
// availableReplicas.
func emptyStatus() *statefulsetv1.StatefulSetStatus {
	return &statefulsetv1.StatefulSetStatus{Replicas: proto.Int32(0), AvailableReplicas: proto.Int32(0)}
}

// orphanDependents releases the StatefulSet's pods (in the view and, through a pod
// UPDATE command, in the node service) and its ControllerRevisions. Claims are not
// its dependents unless the retention policy made them so: their StatefulSet
// ownerReference goes too, so an orphaning delete never deletes storage.
func orphanDependents(ctx context.Context, tx pgx.Tx, owner *corev1.ObjectMeta, now time.Time) error {
	if err := podview.Orphan(ctx, tx, owner, now); err != nil {
		return apierr.Internal(err)
	}
	claims, err := kinds.Claims.List(ctx, tx, store.ListOptions{Namespace: owner.Namespace, ForUpdate: true})
	if err != nil {
		return apierr.Internal(err)
	}
	for _, c := range claims {
		if podview.DropOwner(c.Metadata, owner.Uid) {
			c.Metadata.ResourceVersion = ""
			if _, err := kinds.Claims.Update(ctx, tx, c); err != nil {
				return apierr.Internal(err)
			}
		}
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

// StatefulSetServer serves StatefulSetService.
type StatefulSetServer struct {
	statefulsetv1.UnimplementedStatefulSetServiceServer
	R *crud.Resource[*statefulsetv1.StatefulSet]
}

func required(set *statefulsetv1.StatefulSet) error {
	if set == nil {
		return apierr.BadRequest("a StatefulSet is required in the request body")
	}
	return nil
}

// CreateStatefulSet stores a new StatefulSet.
func (s *StatefulSetServer) CreateStatefulSet(ctx context.Context, req *statefulsetv1.CreateStatefulSetRequest) (*statefulsetv1.CreateStatefulSetResponse, error) {
	if err := required(req.GetStatefulSet()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetStatefulSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.CreateStatefulSetResponse{StatefulSet: out}, nil
}

// GetStatefulSet returns one StatefulSet.
func (s *StatefulSetServer) GetStatefulSet(ctx context.Context, req *statefulsetv1.GetStatefulSetRequest) (*statefulsetv1.GetStatefulSetResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.GetStatefulSetResponse{StatefulSet: out}, nil
}

// ListStatefulSets lists StatefulSets.
func (s *StatefulSetServer) ListStatefulSets(ctx context.Context, req *statefulsetv1.ListStatefulSetsRequest) (*statefulsetv1.ListStatefulSetsResponse, error) {
	res, err := s.R.List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.ListStatefulSetsResponse{ApiVersion: "apps/v1", Kind: "StatefulSetList", Metadata: res.Meta, Items: res.Items}, nil
}

// UpdateStatefulSet replaces a StatefulSet.
func (s *StatefulSetServer) UpdateStatefulSet(ctx context.Context, req *statefulsetv1.UpdateStatefulSetRequest) (*statefulsetv1.UpdateStatefulSetResponse, error) {
	if err := required(req.GetStatefulSet()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), req.GetStatefulSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.UpdateStatefulSetResponse{StatefulSet: out}, nil
}

// UpdateStatefulSetStatus replaces the status subresource.
func (s *StatefulSetServer) UpdateStatefulSetStatus(ctx context.Context, req *statefulsetv1.UpdateStatefulSetStatusRequest) (*statefulsetv1.UpdateStatefulSetStatusResponse, error) {
	if err := required(req.GetStatefulSet()); err != nil {
		return nil, err
	}
	out, err := s.R.UpdateStatusDryRun(ctx, req.GetNamespace(), req.GetName(), req.GetStatefulSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.UpdateStatefulSetStatusResponse{StatefulSet: out}, nil
}

// DeleteStatefulSet deletes with a propagation policy.
func (s *StatefulSetServer) DeleteStatefulSet(ctx context.Context, req *statefulsetv1.DeleteStatefulSetRequest) (*statefulsetv1.DeleteStatefulSetResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), req.GetPropagationPolicy(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.DeleteStatefulSetResponse{Status: st}, nil
}

// GetStatefulSetScale reads the scale subresource.
func (s *StatefulSetServer) GetStatefulSetScale(ctx context.Context, req *statefulsetv1.GetStatefulSetScaleRequest) (*statefulsetv1.GetStatefulSetScaleResponse, error) {
	set, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.GetStatefulSetScaleResponse{Scale: scaleOf(set)}, nil
}

func scaleOf(set *statefulsetv1.StatefulSet) *corev1.Scale {
	return crud.ScaleOf(set.Metadata, set.GetSpec().GetReplicas(), set.GetStatus().GetReplicas(), set.GetSpec().GetSelector())
}

// UpdateStatefulSetScale writes spec.replicas through the scale subresource.
func (s *StatefulSetServer) UpdateStatefulSetScale(ctx context.Context, req *statefulsetv1.UpdateStatefulSetScaleRequest) (*statefulsetv1.UpdateStatefulSetScaleResponse, error) {
	set, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	if err := crud.CheckScale(req.GetScale(), s.R.GR, set.Metadata); err != nil {
		return nil, err
	}
	set.Spec.Replicas = proto.Int32(req.GetScale().GetSpec().GetReplicas())
	// A Scale without resourceVersion is an unconditional write (CheckScale compared a given one).
	set.Metadata.ResourceVersion = ""
	crud.KeepScaleManagers(req.GetScale(), set.Metadata)
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), set, req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.UpdateStatefulSetScaleResponse{Scale: scaleOf(out)}, nil
}

// WatchStatefulSets streams changes.
func (s *StatefulSetServer) WatchStatefulSets(req *statefulsetv1.WatchStatefulSetsRequest, stream statefulsetv1.StatefulSetService_WatchStatefulSetsServer) error {
	return s.R.ServeWatch(stream, req.GetNamespace(), req,
		func(typ string, obj *statefulsetv1.StatefulSet) error {
			return stream.Send(&statefulsetv1.WatchStatefulSetsResponse{Type: typ, Object: obj})
		})
}

// history serves the history RPCs (shared/revisions).
func (s *StatefulSetServer) history() revisions.Handlers[*statefulsetv1.StatefulSet, *statefulsetv1.StatefulSetRevision] {
	return revisions.Handlers[*statefulsetv1.StatefulSet, *statefulsetv1.StatefulSetRevision]{
		R:           s.R,
		Template:    func(o *statefulsetv1.StatefulSet) *corev1.PodTemplateSpec { return o.GetSpec().GetTemplate() },
		SetTemplate: func(o *statefulsetv1.StatefulSet, t *corev1.PodTemplateSpec) { o.Spec.Template = t },
		Entry:       reconcile.HistoryEntry,
	}
}

// ListStatefulSetHistory is `kubectl rollout history statefulset`.
func (s *StatefulSetServer) ListStatefulSetHistory(ctx context.Context, req *statefulsetv1.ListStatefulSetHistoryRequest) (*statefulsetv1.ListStatefulSetHistoryResponse, error) {
	items, err := s.history().History(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.ListStatefulSetHistoryResponse{Items: items}, nil
}

// GetStatefulSetRevision is `kubectl rollout history statefulset --revision=N`.
func (s *StatefulSetServer) GetStatefulSetRevision(ctx context.Context, req *statefulsetv1.GetStatefulSetRevisionRequest) (*statefulsetv1.GetStatefulSetRevisionResponse, error) {
	r, err := s.history().Revision(ctx, req.GetNamespace(), req.GetName(), req.GetRevision())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.GetStatefulSetRevisionResponse{Revision: r}, nil
}

// RollbackStatefulSet is `kubectl rollout undo statefulset`: the revision's template
// becomes the StatefulSet's template again (and so its revision the newest).
func (s *StatefulSetServer) RollbackStatefulSet(ctx context.Context, req *statefulsetv1.RollbackStatefulSetRequest) (*statefulsetv1.RollbackStatefulSetResponse, error) {
	out, msg, err := s.history().Rollback(ctx, req.GetNamespace(), req.GetName(), req.GetRevision())
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.RollbackStatefulSetResponse{StatefulSet: out, Message: msg}, nil
}

// ListControllerRevisions lists ControllerRevisions.
func (s *StatefulSetServer) ListControllerRevisions(ctx context.Context, req *statefulsetv1.ListControllerRevisionsRequest) (*statefulsetv1.ListControllerRevisionsResponse, error) {
	res, err := revisions.Resource(s.R.DB, s.R.Hub).List(ctx, req.GetNamespace(), crud.ListOptionsOf(req))
	if err != nil {
		return nil, err
	}
	return &statefulsetv1.ListControllerRevisionsResponse{ApiVersion: "apps/v1", Kind: "ControllerRevisionList", Metadata: res.Meta, Items: res.Items}, nil
}

// WatchControllerRevisions streams ControllerRevision changes.
func (s *StatefulSetServer) WatchControllerRevisions(req *statefulsetv1.WatchControllerRevisionsRequest, stream statefulsetv1.StatefulSetService_WatchControllerRevisionsServer) error {
	return revisions.Resource(s.R.DB, s.R.Hub).ServeWatch(stream, req.GetNamespace(), req,
		func(t string, cr *revisions.Revision) error {
			return stream.Send(&statefulsetv1.WatchControllerRevisionsResponse{Type: t, Object: cr})
		})
}

// GetStatefulSetRolloutStatus answers like one line of `kubectl rollout status statefulset`.
func (s *StatefulSetServer) GetStatefulSetRolloutStatus(ctx context.Context, req *statefulsetv1.GetStatefulSetRolloutStatusRequest) (*statefulsetv1.GetStatefulSetRolloutStatusResponse, error) {
	set, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	msg, done, err := reconcile.RolloutStatus(set)
	if err != nil {
		return nil, apierr.BadRequest(err.Error())
	}
	return &statefulsetv1.GetStatefulSetRolloutStatusResponse{Done: done, Message: msg}, nil
}
