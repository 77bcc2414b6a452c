package service

import (
	"fmt"
	"os"

	"google.golang.org/grpc"

	"github.com/podwarden/podwarden/services/core/internal/clients"
	"github.com/podwarden/podwarden/services/core/internal/controller"
	"github.com/podwarden/podwarden/services/core/internal/server"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/clock"

	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

// The other services' gRPC addresses of a local run: the disruption controller and
// the eviction subresource reach the pods (node) and their controllers' scales
// (deployment, statefulset).
const (
	DefaultNodeAddr        = "127.0.0.1:9106"
	DefaultDeploymentAddr  = "127.0.0.1:9101"
	DefaultStatefulSetAddr = "127.0.0.1:9102"
)

// Peers are the addresses of the services the core service calls.
type Peers struct {
	NodeAddr, DeploymentAddr, StatefulSetAddr string
}

// FromEnv fills unset addresses from PODWARDEN_NODE_ADDR, PODWARDEN_DEPLOYMENT_ADDR and
// PODWARDEN_STATEFULSET_ADDR, then the defaults.
func (p *Peers) FromEnv() {
	for _, f := range []struct {
		dst      *string
		env, def string
	}{{&p.NodeAddr, "PODWARDEN_NODE_ADDR", DefaultNodeAddr}, {&p.DeploymentAddr, "PODWARDEN_DEPLOYMENT_ADDR", DefaultDeploymentAddr},
		{&p.StatefulSetAddr, "PODWARDEN_STATEFULSET_ADDR", DefaultStatefulSetAddr}} {
		if *f.dst == "" {
			*f.dst = os.Getenv(f.env)
		}
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
}

// disruptionParts registers PodDisruptionBudgets and the eviction subresource, and
// returns the disruption controller (run by the leader) and the connections to close.
func disruptionParts(a *app.App, peers Peers, clk clock.Clock) (*controller.Disruption, func(), error) {
	peers.FromEnv()
	dialOpts, err := a.Config.GRPCSecurity.DialOptions()
	if err != nil {
		return nil, nil, err
	}
	var conns []*grpc.ClientConn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	dial := func(name, addr string) (*grpc.ClientConn, error) {
		c, err := grpc.NewClient(addr, dialOpts...)
		if err != nil {
			return nil, fmt.Errorf("%s service %s: %w", name, addr, err)
		}
		conns = append(conns, c)
		return c, nil
	}
	nodeConn, err := dial("node", peers.NodeAddr)
	if err != nil {
		return nil, nil, err
	}
	depConn, err := dial("deployment", peers.DeploymentAddr)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	stsConn, err := dial("statefulset", peers.StatefulSetAddr)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	pods := clients.NewPods(nodeConn)
	pdbs := server.PodDisruptionBudgetResource(a.DB, a.Watch, clk.Now)
	policyv1.RegisterPodDisruptionBudgetServiceServer(a.GRPC.GRPC, &server.PodDisruptionBudgetServer{R: pdbs})
	policyv1.RegisterEvictionServiceServer(a.GRPC.GRPC, &server.EvictionServer{DB: a.DB, Pods: pods, Now: clk.Now})
	ctl := controller.NewDisruption(a.DB, pdbs.Cache(), pods, clients.NewScales(depConn, stsConn), clk, a.Log, 4, a.Config.Resync)
	return ctl, closeAll, nil
}
