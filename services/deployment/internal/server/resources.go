// Package server implements the deployment service's gRPC API: validation, defaults
// and storage through shared/crud; no reconcile decisions are made here.
package server

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/deployment/internal/controller"
	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// Resources are the three kinds with Kubernetes' API semantics.
type Resources struct {
	Deployments            *crud.Resource[*deploymentv1.Deployment]
	ReplicaSets            *crud.Resource[*deploymentv1.ReplicaSet]
	ReplicationControllers *crud.Resource[*deploymentv1.ReplicationController]
	DB                     *store.DB
	Hub                    *watch.Hub
	Now                    func() time.Time
}

// NewResources describes the kinds over db.
func NewResources(db *store.DB, hub *watch.Hub, now func() time.Time) *Resources {
	r := &Resources{DB: db, Hub: hub, Now: now}
	r.Deployments = &crud.Resource[*deploymentv1.Deployment]{
		Kind: kinds.Deployments, APIVersion: "apps/v1", KindName: "Deployment", Namespaced: true,
		GR: apierr.GroupResource{Group: "apps", Resource: "deployments"}, GK: apierr.GroupKind{Group: "apps", Kind: "Deployment"},
		DB: db, Hub: hub, Now: now, Foreground: true,
		TypeMeta:    func(d *deploymentv1.Deployment) (*string, *string) { return &d.ApiVersion, &d.Kind },
		Default:     defaultDeployment,
		Validate:    validateDeployment,
		ResetStatus: func(d *deploymentv1.Deployment) { d.Status = &deploymentv1.DeploymentStatus{} },
		CopyStatus:  func(dst, src *deploymentv1.Deployment) { dst.Status = src.Status },
		SpecEqual:   func(a, b *deploymentv1.Deployment) bool { return proto.Equal(a.Spec, b.Spec) },
		OrphanDependents: func(ctx context.Context, tx pgx.Tx, d *deploymentv1.Deployment) error {
			return controller.OrphanReplicaSets(ctx, tx, d.Metadata)
		},
	}
	r.ReplicaSets = &crud.Resource[*deploymentv1.ReplicaSet]{
		Kind: kinds.ReplicaSets, APIVersion: "apps/v1", KindName: "ReplicaSet", Namespaced: true,
		GR: apierr.GroupResource{Group: "apps", Resource: "replicasets"}, GK: apierr.GroupKind{Group: "apps", Kind: "ReplicaSet"},
		DB: db, Hub: hub, Now: now, Foreground: true,
		TypeMeta:    func(rs *deploymentv1.ReplicaSet) (*string, *string) { return &rs.ApiVersion, &rs.Kind },
		Default:     defaultReplicaSet,
		Validate:    validateReplicaSet,
		ResetStatus: func(rs *deploymentv1.ReplicaSet) { rs.Status = &deploymentv1.ReplicaSetStatus{Replicas: int32p(0)} },
		CopyStatus:  func(dst, src *deploymentv1.ReplicaSet) { dst.Status = src.Status },
		SpecEqual:   func(a, b *deploymentv1.ReplicaSet) bool { return proto.Equal(a.Spec, b.Spec) },
		OrphanDependents: func(ctx context.Context, tx pgx.Tx, rs *deploymentv1.ReplicaSet) error {
			return podview.Orphan(ctx, tx, rs.Metadata, now())
		},
	}
	r.ReplicationControllers = &crud.Resource[*deploymentv1.ReplicationController]{
		Kind: kinds.ReplicationControllers, APIVersion: "v1", KindName: "ReplicationController", Namespaced: true,
		GR: apierr.GroupResource{Resource: "replicationcontrollers"}, GK: apierr.GroupKind{Kind: "ReplicationController"},
		DB: db, Hub: hub, Now: now, Foreground: true,
		TypeMeta: func(rc *deploymentv1.ReplicationController) (*string, *string) { return &rc.ApiVersion, &rc.Kind },
		Default:  defaultReplicationController,
		Validate: validateReplicationController,
		ResetStatus: func(rc *deploymentv1.ReplicationController) {
			rc.Status = &deploymentv1.ReplicaSetStatus{Replicas: int32p(0)}
		},
		CopyStatus: func(dst, src *deploymentv1.ReplicationController) { dst.Status = src.Status },
		SpecEqual:  func(a, b *deploymentv1.ReplicationController) bool { return proto.Equal(a.Spec, b.Spec) },
		// kube-apiserver's ReplicationController strategy: status.replicas is selectable.
		Fields: func(rc *deploymentv1.ReplicationController) map[string]string {
			return map[string]string{"status.replicas": strconv.Itoa(int(rc.GetStatus().GetReplicas()))}
		},
		OrphanDependents: func(ctx context.Context, tx pgx.Tx, rc *deploymentv1.ReplicationController) error {
			return podview.Orphan(ctx, tx, rc.Metadata, now())
		},
	}
	return r
}

// scaleOf builds the autoscaling/v1 Scale of an object.
func scaleOf(m *corev1.ObjectMeta, spec, status int32, sel *corev1.LabelSelector) *corev1.Scale {
	return &corev1.Scale{
		ApiVersion: "autoscaling/v1", Kind: "Scale",
		Metadata: &corev1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Uid: m.Uid,
			ResourceVersion: m.ResourceVersion, CreationTimestamp: m.CreationTimestamp},
		Spec:   &corev1.ScaleSpec{Replicas: spec},
		Status: &corev1.ScaleStatus{Replicas: status, Selector: labels.String(sel)},
	}
}

// checkScale validates a Scale write against the object it targets.
func checkScale(s *corev1.Scale, gk apierr.GroupKind, m *corev1.ObjectMeta) error {
	if s.GetSpec().GetReplicas() < 0 {
		return apierr.Invalid(apierr.GroupKind{Group: "autoscaling", Kind: "Scale"}, m.Name,
			fieldErrs("spec.replicas", s.GetSpec().GetReplicas(), "must be greater than or equal to 0"))
	}
	if rv := s.GetMetadata().GetResourceVersion(); rv != "" && rv != m.ResourceVersion {
		return apierr.Conflict(apierr.GroupResource{Group: gk.Group, Resource: resourceOf(gk.Kind)}, m.Name,
			"the object has been modified; please apply your changes to the latest version and try again")
	}
	return nil
}

func resourceOf(kind string) string {
	switch kind {
	case "Deployment":
		return "deployments"
	case "ReplicaSet":
		return "replicasets"
	}
	return "replicationcontrollers"
}

// streamWatch adapts a watch to a gRPC server stream. Headers go out at once, so a
// REST client sees its 200 before the first event (and a bad selector as an error).
func streamWatch[T store.Object, R any](stream grpc.ServerStream, res *crud.Resource[T], ns string, req crud.WatchRequest, mk func(string, T) R, send func(R) error) error {
	return res.ServeWatch(stream, ns, req, func(typ string, obj T) error { return send(mk(typ, obj)) })
}

func listRV(rv string) *corev1.ListMeta { return &corev1.ListMeta{ResourceVersion: rv} }

func parseRV(rv string) int64 { v, _ := strconv.ParseInt(rv, 10, 64); return v }

func nowTS(now time.Time) *timestamppb.Timestamp { return timestamppb.New(now.Truncate(time.Second)) }
