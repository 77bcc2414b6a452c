// Package service is the core service: the kinds Kubernetes keeps in the
// apiserver itself rather than in a workload controller (coordination.k8s.io/v1
// Leases, core/v1 ConfigMaps, Secrets and ServiceAccounts, with the
// service-account controller), Namespaces (with the namespace controller) and
// PodDisruptionBudgets (with the disruption controller and evictions), served over
// gRPC from the service's own Postgres schema.
package service

import (
	"context"
	"fmt"
	"os"
	"sync"

	"google.golang.org/grpc"

	"github.com/podwarden/podwarden/services/core/internal/controller"
	"github.com/podwarden/podwarden/services/core/internal/server"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/grpcserver"

	coordinationv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/coordination/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// DefaultGRPCAddr is the core service's gRPC address of a local run.
const DefaultGRPCAddr = "127.0.0.1:9107"

// The other services' default addresses (those of a local run) beyond the Peers'.
const (
	DefaultDaemonSetAddr  = "127.0.0.1:9103"
	DefaultJobAddr        = "127.0.0.1:9104"
	DefaultAutoscalerAddr = "127.0.0.1:9105"
)

// Config configures the service.
type Config struct {
	App   app.Config
	Clock clock.Clock
	// Peers are the node, deployment and statefulset services (PodDisruptionBudgets,
	// evictions, and the namespace controller's deletions).
	Peers Peers
	// The other services whose namespaced objects the namespace controller deletes
	// with their namespace ("" or "-": not deployed, nothing of it to delete).
	DaemonSetAddr, JobAddr, AutoscalerAddr string
	// RootCAFile is the CA certificate (PEM) every namespace's kube-root-ca.crt
	// ConfigMap holds: the CA of the gateway's serving certificate. Empty: a CA the
	// service generates once and keeps.
	RootCAFile string
}

// FromEnv fills the unset addresses from the Peers' variables,
// PODWARDEN_DAEMONSET_ADDR, PODWARDEN_JOB_ADDR and PODWARDEN_AUTOSCALER_ADDR, else
// the defaults, and the root CA file from PODWARDEN_ROOT_CA_FILE.
func (c *Config) FromEnv() {
	c.Peers.FromEnv()
	if c.RootCAFile == "" {
		c.RootCAFile = os.Getenv("PODWARDEN_ROOT_CA_FILE")
	}
	for _, a := range []struct {
		dst      *string
		env, def string
	}{
		{&c.DaemonSetAddr, "PODWARDEN_DAEMONSET_ADDR", DefaultDaemonSetAddr},
		{&c.JobAddr, "PODWARDEN_JOB_ADDR", DefaultJobAddr},
		{&c.AutoscalerAddr, "PODWARDEN_AUTOSCALER_ADDR", DefaultAutoscalerAddr},
	} {
		if *a.dst == "" {
			*a.dst = os.Getenv(a.env)
		}
		if *a.dst == "" {
			*a.dst = a.def
		}
	}
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
	leases := server.LeaseResource(a.DB, a.Watch, cfg.Clock.Now)
	coordinationv1.RegisterLeaseServiceServer(a.GRPC.GRPC, &server.LeaseServer{R: leases})
	cms := server.ConfigMapResource(a.DB, a.Watch, cfg.Clock.Now)
	corev1.RegisterConfigMapServiceServer(a.GRPC.GRPC, &server.ConfigMapServer{R: cms})
	secrets := server.SecretResource(a.DB, a.Watch, cfg.Clock.Now)
	corev1.RegisterSecretServiceServer(a.GRPC.GRPC, &server.SecretServer{R: secrets})
	sa := server.ServiceAccountResource(a.DB, a.Watch, cfg.Clock.Now)
	corev1.RegisterServiceAccountServiceServer(a.GRPC.GRPC, &server.ServiceAccountServer{R: sa})
	nsr := server.NamespaceResource(a.DB, a.Watch, cfg.Clock.Now)
	corev1.RegisterNamespaceServiceServer(a.GRPC.GRPC, &server.NamespaceServer{R: nsr})
	// Every backend answers the gateway's merged event lists: here, the events clients post.
	corev1.RegisterEventServiceServer(a.GRPC.GRPC, &events.Server{Hub: a.Watch})
	posted := server.EventResource(a.DB, a.Watch, cfg.Clock.Now)
	corev1.RegisterEventWriteServiceServer(a.GRPC.GRPC, &server.EventWriteServer{R: posted})

	backends, closeConns, err := dialBackends(cfg, a.Config.GRPCSecurity)
	if err != nil {
		return err
	}
	defer closeConns()
	content := append(controller.RemoteContent(backends),
		controller.LocalContent("configmaps.", cms),
		controller.LocalContent("secrets.", secrets),
		controller.LocalContent("serviceaccounts.", sa),
		controller.LocalContent("leases.coordination.k8s.io", leases),
		controller.LocalContent("events.", posted),
	)
	// The leader runs the namespace, service-account and root-CA publisher
	// controllers (and app expires the events posted here).
	nsc := controller.NewNamespaces(a.DB, nsr, content, cfg.Clock.Now, a.Log, 2, a.Config.Resync)
	sac := controller.NewServiceAccounts(a.DB, nsr, sa, a.Log, 2, a.Config.Resync)
	caPEM, err := controller.LoadRootCA(ctx, a.DB, cfg.RootCAFile)
	if err != nil {
		return err
	}
	rca := controller.NewRootCA(nsr, cms, caPEM, a.Log, 2, a.Config.Resync)
	// And the disruption controller (PodDisruptionBudgets; evictions are served by every replica).
	dc, closePeers, err := disruptionParts(a, cfg.Peers, cfg.Clock)
	if err != nil {
		return err
	}
	defer closePeers()
	onObject := func(payload string) {
		nsc.OnObject(payload)
		sac.OnObject(payload)
		rca.OnObject(payload)
		dc.OnObject(payload)
	}
	return a.Run(ctx, onObject, func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, run := range []func(context.Context){sac.Run, rca.Run, dc.Run} {
			wg.Add(1)
			go func() { defer wg.Done(); run(ctx) }()
		}
		nsc.Run(ctx)
		wg.Wait()
	})
}

// dialBackends connects to the other services (grpc.NewClient does no I/O: a
// service that is down fails the namespace controller's calls, which retry).
func dialBackends(cfg Config, sec grpcserver.Security) (controller.Backends, func(), error) {
	var (
		b     controller.Backends
		conns []*grpc.ClientConn
	)
	closeAll := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	opts, err := sec.DialOptions()
	if err != nil {
		return b, nil, err
	}
	for _, t := range []struct {
		addr string
		slot *grpc.ClientConnInterface
	}{
		{cfg.Peers.DeploymentAddr, &b.Deployment}, {cfg.Peers.StatefulSetAddr, &b.StatefulSet}, {cfg.DaemonSetAddr, &b.DaemonSet},
		{cfg.JobAddr, &b.Job}, {cfg.AutoscalerAddr, &b.Autoscaler}, {cfg.Peers.NodeAddr, &b.Node},
	} {
		if t.addr == "" || t.addr == "-" {
			continue
		}
		conn, err := grpc.NewClient(t.addr, opts...)
		if err != nil {
			closeAll()
			return b, nil, fmt.Errorf("dial %s: %w", t.addr, err)
		}
		conns = append(conns, conn)
		*t.slot = conn
	}
	return b, closeAll, nil
}
