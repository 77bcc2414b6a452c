// Package service is the core service: the kinds Kubernetes keeps in the
// apiserver itself rather than in a workload controller (coordination.k8s.io/v1
// Leases, core/v1 ConfigMaps, Secrets and ServiceAccounts, with the
// service-account controller), served over gRPC from the service's own Postgres schema.
package service

import (
	"context"
	"sync"

	"github.com/podwarden/podwarden/services/core/internal/controller"
	"github.com/podwarden/podwarden/services/core/internal/server"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/events"

	coordinationv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/coordination/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// DefaultGRPCAddr is the core service's gRPC address of a local run.
const DefaultGRPCAddr = "127.0.0.1:9107"

// Config configures the service.
type Config struct {
	App   app.Config
	Clock clock.Clock
	// Peers are the node, deployment and statefulset services (PodDisruptionBudgets, evictions).
	Peers Peers
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	a, err := app.New(ctx, "core", cfg.App, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Now = cfg.Clock.Now
	coordinationv1.RegisterLeaseServiceServer(a.GRPC.GRPC, &server.LeaseServer{R: server.LeaseResource(a.DB, a.Watch, cfg.Clock.Now)})
	corev1.RegisterConfigMapServiceServer(a.GRPC.GRPC, &server.ConfigMapServer{R: server.ConfigMapResource(a.DB, a.Watch, cfg.Clock.Now)})
	corev1.RegisterSecretServiceServer(a.GRPC.GRPC, &server.SecretServer{R: server.SecretResource(a.DB, a.Watch, cfg.Clock.Now)})
	sa := server.ServiceAccountResource(a.DB, a.Watch, cfg.Clock.Now)
	corev1.RegisterServiceAccountServiceServer(a.GRPC.GRPC, &server.ServiceAccountServer{R: sa})
	// Every backend answers the gateway's merged event lists: here, the events clients post.
	corev1.RegisterEventServiceServer(a.GRPC.GRPC, &events.Server{Hub: a.Watch})
	corev1.RegisterEventWriteServiceServer(a.GRPC.GRPC, &server.EventWriteServer{R: server.EventResource(a.DB, a.Watch, cfg.Clock.Now)})
	// The leader runs the service-account controller (and app expires the events posted here).
	sac := controller.NewServiceAccounts(a.DB, sa, a.Log, 2, a.Config.Resync)
	// And the disruption controller (PodDisruptionBudgets; evictions are served by every replica).
	dc, closePeers, err := disruptionParts(a, cfg.Peers, cfg.Clock)
	if err != nil {
		return err
	}
	defer closePeers()
	onObject := func(payload string) { sac.OnObject(payload); dc.OnObject(payload) }
	lead := func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); dc.Run(ctx) }()
		sac.Run(ctx)
		wg.Wait()
	}
	return a.Run(ctx, onObject, lead)
}
