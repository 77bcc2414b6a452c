// Package service is the statefulset service: StatefulSets, their
// ControllerRevisions, PersistentVolumeClaims, PersistentVolumes and
// StorageClasses over gRPC,
// reconciled by the leader replica (the StatefulSet controller and the volume
// binder) against its view of the pods (the node service's pod events).
package service

import (
	"context"
	"fmt"

	"github.com/podwarden/podwarden/services/statefulset/internal/controller"
	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/services/statefulset/internal/migrations"
	"github.com/podwarden/podwarden/services/statefulset/internal/reconcile"
	"github.com/podwarden/podwarden/services/statefulset/internal/server"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

// DefaultGRPCAddr is where the service listens unless told otherwise.
const DefaultGRPCAddr = "127.0.0.1:9102"

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
	a, err := app.New(ctx, "statefulset", cfg.App, migrations.FS)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Now = cfg.Clock.Now
	now := cfg.Clock.Now
	classes := server.NewStorageClassResource(a.DB, a.Watch, now)
	classCache := classes.Cache()
	defaultClass := func() string { return reconcile.DefaultClass(classCache.Select(store.ListOptions{})) }
	sets, claims, volumes := server.NewResource(a.DB, a.Watch, now), server.NewClaimResource(a.DB, a.Watch, now, defaultClass), server.NewVolumeResource(a.DB, a.Watch, now)
	if err := server.EnsureStandardClass(ctx, classes); err != nil {
		return fmt.Errorf("create the default storage class: %w", err)
	}
	statefulsetv1.RegisterStatefulSetServiceServer(a.GRPC.GRPC, &server.StatefulSetServer{R: sets})
	statefulsetv1.RegisterPersistentVolumeClaimServiceServer(a.GRPC.GRPC, &server.ClaimServer{R: claims})
	statefulsetv1.RegisterPersistentVolumeServiceServer(a.GRPC.GRPC, &server.VolumeServer{R: volumes})
	storagev1.RegisterStorageClassServiceServer(a.GRPC.GRPC, &server.StorageClassServer{R: classes})
	corev1.RegisterEventServiceServer(a.GRPC.GRPC, &events.Server{Hub: a.Watch})
	caches := controller.Caches{
		StatefulSets: sets.Cache(), Revisions: revisions.Resource(a.DB, a.Watch).Cache(),
		Claims: claims.Cache(), Volumes: volumes.Cache(), Classes: classCache, Pods: watch.For(a.Watch, kinds.Pods, nil),
	}
	ctl := controller.New(a.DB, a.Bus, a.Watch, caches, a.Log, cfg.Clock, controller.Config{Workers: a.Config.Workers, Resync: a.Config.Resync})
	return a.Run(ctx, nil, ctl.Run) // the caches wake the loops
}
