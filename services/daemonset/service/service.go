// Package service is the daemonset service: DaemonSets and their
// ControllerRevisions over gRPC, reconciled by the leader replica against its view
// of the fleet (the node service's node events) and of the daemon pods (pod events).
package service

import (
	"context"
	"fmt"

	"github.com/podwarden/podwarden/services/daemonset/internal/controller"
	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/services/daemonset/internal/migrations"
	"github.com/podwarden/podwarden/services/daemonset/internal/server"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// DefaultGRPCAddr is where the service listens unless told otherwise.
const DefaultGRPCAddr = "127.0.0.1:9103"

// DefaultNodeAddr is the node service's gRPC address unless told otherwise.
const DefaultNodeAddr = "127.0.0.1:9106"

// Config configures the service.
type Config struct {
	App   app.Config
	Clock clock.Clock
	// NodeAddr is the node service's gRPC address: the node view is repaired from
	// its full list at every resync (node events keep it current in between).
	// "-" disables the repair.
	NodeAddr string
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	a, err := app.New(ctx, "daemonset", cfg.App, migrations.FS)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Now = cfg.Clock.Now
	sets := server.NewResource(a.DB, a.Watch, cfg.Clock.Now)
	daemonsetv1.RegisterDaemonSetServiceServer(a.GRPC.GRPC, &server.DaemonSetServer{R: sets})
	corev1.RegisterEventServiceServer(a.GRPC.GRPC, &events.Server{Hub: a.Watch})
	ccfg := controller.Config{Workers: a.Config.Workers, Resync: a.Config.Resync}
	if cfg.NodeAddr == "" {
		cfg.NodeAddr = DefaultNodeAddr
	}
	if cfg.NodeAddr != "-" {
		lister, closeConn, err := dialNodes(cfg.NodeAddr, a.Config.GRPCSecurity)
		if err != nil {
			return fmt.Errorf("node service client: %w", err)
		}
		defer func() { _ = closeConn() }()
		ccfg.Nodes = lister
	}
	caches := controller.Caches{
		DaemonSets: sets.Cache(), Revisions: revisions.Resource(a.DB, a.Watch).Cache(),
		Pods: watch.For(a.Watch, kinds.Pods, nil), Nodes: watch.For(a.Watch, kinds.Nodes, nil),
	}
	ctl := controller.New(a.DB, a.Bus, a.Watch, caches, a.Log, cfg.Clock, ccfg)
	return a.Run(ctx, nil, ctl.Run) // the caches wake the loops
}
