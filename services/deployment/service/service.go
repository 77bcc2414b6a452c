// Package service is the deployment service: Deployments, ReplicaSets and
// ReplicationControllers over gRPC, reconciled by the leader replica.
package service

import (
	"context"

	"github.com/podwarden/podwarden/services/deployment/internal/controller"
	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/services/deployment/internal/migrations"
	"github.com/podwarden/podwarden/services/deployment/internal/server"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// DefaultGRPCAddr is where the service listens unless told otherwise.
const DefaultGRPCAddr = "127.0.0.1:9101"

// Config configures the service.
type Config struct {
	App   app.Config
	Clock clock.Clock
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	a, err := app.New(ctx, "deployment", cfg.App, migrations.FS)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Now = cfg.Clock.Now
	res := server.NewResources(a.DB, a.Watch, cfg.Clock.Now)
	deploymentv1.RegisterDeploymentServiceServer(a.GRPC.GRPC, &server.DeploymentServer{R: res})
	deploymentv1.RegisterReplicaSetServiceServer(a.GRPC.GRPC, &server.ReplicaSetServer{R: res})
	deploymentv1.RegisterReplicationControllerServiceServer(a.GRPC.GRPC, &server.ReplicationControllerServer{R: res})
	corev1.RegisterEventServiceServer(a.GRPC.GRPC, &events.Server{Hub: a.Watch})
	caches := controller.Caches{
		Deployments: res.Deployments.Cache(), ReplicaSets: res.ReplicaSets.Cache(), ReplicationControllers: res.ReplicationControllers.Cache(),
		Pods: watch.For(a.Watch, kinds.Pods, nil),
	}
	ctl := controller.New(a.DB, a.Bus, a.Watch, caches, a.Log, cfg.Clock, controller.Config{Workers: a.Config.Workers, Resync: a.Config.Resync})
	return a.Run(ctx, nil, ctl.Run) // the caches wake the loops
}
