package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// deploymentBackend serves Deployments, ReplicaSets and ReplicationControllers.
var deploymentBackend = backend{
	name:        BackendDeployment,
	conn:        func(b *Backends) *grpc.ClientConnInterface { return &b.Deployment },
	register:    (*gateway).registerDeployment,
	patchRoutes: deploymentPatchRoutes,
	resources:   deploymentResources,
	printers: map[string]printer{
		"Deployment":            deploymentPrinter,
		"ReplicaSet":            replicaSetPrinter,
		"ReplicationController": replicaSetPrinter,
	},
}

var (
	deploymentDesc = (&deploymentv1.Deployment{}).ProtoReflect().Descriptor()
	replicaSetDesc = (&deploymentv1.ReplicaSet{}).ProtoReflect().Descriptor()
	rcDesc         = (&deploymentv1.ReplicationController{}).ProtoReflect().Descriptor()
)

// deploymentPatchRoutes are the deployment backend's paths that take a PATCH.
var deploymentPatchRoutes = []patchRoute{
	{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", deploymentDesc},
	{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", deploymentDesc},
	{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", scaleDesc},
	{"/apis/apps/v1/namespaces/{namespace}/replicasets/{name}", replicaSetDesc},
	{"/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/status", replicaSetDesc},
	{"/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale", scaleDesc},
	{"/api/v1/namespaces/{namespace}/replicationcontrollers/{name}", rcDesc},
	{"/api/v1/namespaces/{namespace}/replicationcontrollers/{name}/status", rcDesc},
	{"/api/v1/namespaces/{namespace}/replicationcontrollers/{name}/scale", scaleDesc},
}

// deploymentResources are the resources served through the deployment backend.
var deploymentResources = []groupResource{
	{"apps/v1", apiResource{Name: "deployments", SingularName: "deployment", Namespaced: true, Kind: "Deployment", Verbs: objectVerbs, ShortNames: []string{"deploy"}, Categories: []string{"all"}}},
	{"apps/v1", apiResource{Name: "deployments/scale", Namespaced: true, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: subresourceVerbs}},
	{"apps/v1", apiResource{Name: "deployments/status", Namespaced: true, Kind: "Deployment", Verbs: subresourceVerbs}},
	{"apps/v1", apiResource{Name: "replicasets", SingularName: "replicaset", Namespaced: true, Kind: "ReplicaSet", Verbs: objectVerbs, ShortNames: []string{"rs"}, Categories: []string{"all"}}},
	{"apps/v1", apiResource{Name: "replicasets/scale", Namespaced: true, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: subresourceVerbs}},
	{"apps/v1", apiResource{Name: "replicasets/status", Namespaced: true, Kind: "ReplicaSet", Verbs: subresourceVerbs}},
	{"v1", apiResource{Name: "replicationcontrollers", SingularName: "replicationcontroller", Namespaced: true, Kind: "ReplicationController", Verbs: objectVerbs, ShortNames: []string{"rc"}, Categories: []string{"all"}}},
	{"v1", apiResource{Name: "replicationcontrollers/scale", Namespaced: true, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: subresourceVerbs}},
	{"v1", apiResource{Name: "replicationcontrollers/status", Namespaced: true, Kind: "ReplicationController", Verbs: subresourceVerbs}},
}

// registerDeployment registers the deployment backend's generated routes.
func (g *gateway) registerDeployment(ctx context.Context, conn grpc.ClientConnInterface) error {
	return errors.Join(
		deploymentv1.RegisterDeploymentServiceHandlerClient(ctx, g.mux, deploymentv1.NewDeploymentServiceClient(conn)),
		deploymentv1.RegisterReplicaSetServiceHandlerClient(ctx, g.mux, deploymentv1.NewReplicaSetServiceClient(conn)),
		deploymentv1.RegisterReplicationControllerServiceHandlerClient(ctx, g.mux, deploymentv1.NewReplicationControllerServiceClient(conn)),
	)
}

// deploymentPrinter is kubectl's Deployment columns.
var deploymentPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Ready", "string", 0), col("Up-to-date", "integer", 0), col("Available", "integer", 0), col("Age", "string", 0),
		col("Containers", "string", 1), col("Images", "string", 1), col("Selector", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		st := obj(o, "status")
		return append([]any{name(o), fmt.Sprintf("%d/%d", integer(st, "readyReplicas"), integer(obj(o, "spec"), "replicas")),
			integer(st, "updatedReplicas"), integer(st, "availableReplicas"), age(o, now)}, containerColumns(o)...)
	},
}

// replicaSetPrinter is kubectl's ReplicaSet (and ReplicationController) columns.
var replicaSetPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Desired", "integer", 0), col("Current", "integer", 0), col("Ready", "integer", 0), col("Age", "string", 0),
		col("Containers", "string", 1), col("Images", "string", 1), col("Selector", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		st := obj(o, "status")
		return append([]any{name(o), integer(obj(o, "spec"), "replicas"), integer(st, "replicas"), integer(st, "readyReplicas"), age(o, now)}, containerColumns(o)...)
	},
}
