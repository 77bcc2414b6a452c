package service_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/podwarden/podwarden/services/node/service"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// instantSim undoes the human delays SimFromEnv sets.
func instantSim(c *service.Config) {
	c.ScheduleDelay, c.StartDelay, c.ReadyDelay, c.TerminationDelay = 0, 0, 0, 0
}

func internalIP(n *nodev1.Node) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == "InternalIP" {
			return a.GetAddress()
		}
	}
	return ""
}

// TestLargeFleetAddressPlan starts the service with PODWARDEN_SIM_NODES=300 and
// a 10.0.0.0/8 plan: every node has its own podCIDR and InternalIP. A restart
// with another plan renumbers nothing: the old nodes keep their podCIDRs
// (outside the new plan) and still run pods, and a new node gets the new plan's.
func TestLargeFleetAddressPlan(t *testing.T) {
	t.Setenv("PODWARDEN_SIM_NODES", "300")
	t.Setenv("PODWARDEN_CLUSTER_CIDR", "10.0.0.0/8")
	t.Setenv("PODWARDEN_NODE_CIDR_MASK_SIZE", "24")
	e := newEnv(t, func(c *service.Config) { c.SimFromEnv(); instantSim(c) })
	l, err := e.nodes.ListNodes(e.ctx(), &nodev1.ListNodesRequest{})
	if err != nil || len(l.Items) != 300 {
		t.Fatalf("ListNodes = %d nodes, %v; want 300", len(l.GetItems()), err)
	}
	cluster, nodeNet := netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.18.0.0/16")
	cidrs, ips := map[string]string{}, map[string]string{}
	for _, n := range l.Items {
		name, cidr, ip := n.Metadata.Name, n.Spec.PodCidr, internalIP(n)
		c, err := netip.ParsePrefix(cidr)
		if err != nil || c.Bits() != 24 || !cluster.Contains(c.Addr()) || len(n.Spec.PodCidrs) != 1 || n.Spec.PodCidrs[0] != cidr {
			t.Errorf("%s: podCIDR %q podCIDRs %v", name, cidr, n.Spec.PodCidrs)
		}
		if a, err := netip.ParseAddr(ip); err != nil || !nodeNet.Contains(a) {
			t.Errorf("%s: InternalIP %q", name, ip)
		}
		if other, ok := cidrs[cidr]; ok {
			t.Errorf("%s and %s share podCIDR %s", name, other, cidr)
		}
		if other, ok := ips[ip]; ok {
			t.Errorf("%s and %s share InternalIP %s", name, other, ip)
		}
		cidrs[cidr], ips[ip] = name, ip
	}
	if n := nodeNamed(l.Items, "node-299"); n.GetSpec().GetPodCidr() != "10.1.43.0/24" || internalIP(n) != "172.18.1.45" {
		t.Errorf("node-299: %s %s", n.GetSpec().GetPodCidr(), internalIP(n))
	}

	// Restart with a /26 plan in the default cluster CIDR.
	t.Setenv("PODWARDEN_CLUSTER_CIDR", "10.244.0.0/16")
	t.Setenv("PODWARDEN_NODE_CIDR_MASK_SIZE", "26")
	e.cfg.SimFromEnv()
	instantSim(&e.cfg)
	e.restart()
	l, err = e.nodes.ListNodes(e.ctx(), &nodev1.ListNodesRequest{})
	if err != nil || len(l.Items) != 300 {
		t.Fatalf("after restart: %d nodes, %v", len(l.GetItems()), err)
	}
	for _, n := range l.Items {
		if cidrs[n.Spec.PodCidr] != n.Metadata.Name || ips[internalIP(n)] != internalIP(n) {
			t.Errorf("%s renumbered: %s %s", n.Metadata.Name, n.Spec.PodCidr, internalIP(n))
		}
	}
	created, err := e.nodes.CreateNode(e.ctx(), &nodev1.CreateNodeRequest{Node: &nodev1.Node{ApiVersion: "v1", Kind: "Node", Metadata: &corev1.ObjectMeta{Name: "node-300"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The first /26 of the new plan; the first InternalIP no node has.
	if n := created.Node; n.Spec.PodCidr != "10.244.0.0/26" || internalIP(n) != "172.18.1.46" {
		t.Errorf("node-300: %s %s", n.Spec.PodCidr, internalIP(n))
	}
	for _, node := range []string{"node-7", "node-300"} {
		pod := barePod("on-" + node)
		pod.Spec.NodeName = node
		if _, err := e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: pod}); err != nil {
			t.Fatal(err)
		}
		p := e.waitPod("on-"+node, "a pod running on "+node, podRunningReady)
		want := map[string]string{"node-7": "10.0.7.2", "node-300": "10.244.0.2"}[node]
		if p.Status.PodIp != want || p.Status.HostIp != internalIP(nodeNamed(append(l.Items, created.Node), node)) {
			t.Errorf("pod on %s: podIP %s hostIP %s; want podIP %s", node, p.Status.PodIp, p.Status.HostIp, want)
		}
	}
}

func nodeNamed(nodes []*nodev1.Node, name string) *nodev1.Node {
	for _, n := range nodes {
		if n.GetMetadata().GetName() == name {
			return n
		}
	}
	return nil
}

// TestAddressPlanTooSmall: the default plan (256 podCIDRs) refuses a fleet of
// 300 at start, naming the settings; an invalid mask size is refused too.
func TestAddressPlanTooSmall(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"default plan, 300 nodes": {env: map[string]string{"PODWARDEN_SIM_NODES": "300"},
			want: "PODWARDEN_SIM_NODES=300: cluster CIDR 10.244.0.0/16 with node mask /24 holds 256 nodes; 300 asked: set PODWARDEN_CLUSTER_CIDR (e.g. 10.0.0.0/8) or PODWARDEN_NODE_CIDR_MASK_SIZE"},
		"mask size smaller than the prefix": {env: map[string]string{"PODWARDEN_NODE_CIDR_MASK_SIZE": "8"},
			want: "invalid PODWARDEN_CLUSTER_CIDR 10.244.0.0/16: mask size of cluster CIDR must be less than or equal to PODWARDEN_NODE_CIDR_MASK_SIZE (8)"},
		"not a CIDR": {env: map[string]string{"PODWARDEN_CLUSTER_CIDR": "10.0.0.0"},
			want: `invalid PODWARDEN_CLUSTER_CIDR "10.0.0.0"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var cfg service.Config
			cfg.SimFromEnv()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Validate runs before anything is started: no Postgres or NATS is needed.
			err := service.Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestCreateNodeInAFullPlan: a node created through the API when every podCIDR
// is taken is refused (Forbidden, naming the plan) and nothing is stored.
func TestCreateNodeInAFullPlan(t *testing.T) {
	e := newEnv(t, func(c *service.Config) { c.ClusterCIDR = "10.244.0.0/22" }) // 4 podCIDRs, 3 nodes
	create := func(name string) (*nodev1.Node, error) {
		r, err := e.nodes.CreateNode(e.ctx(), &nodev1.CreateNodeRequest{Node: &nodev1.Node{ApiVersion: "v1", Kind: "Node", Metadata: &corev1.ObjectMeta{Name: name}}})
		return r.GetNode(), err
	}
	if n, err := create("node-3"); err != nil || n.Spec.PodCidr != "10.244.3.0/24" {
		t.Fatalf("node-3: %v, %v", n, err)
	}
	_, err := create("node-4")
	want := `nodes "node-4" is forbidden: CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range: cluster CIDR 10.244.0.0/22 with node mask /24 holds 4 nodes, all taken: set PODWARDEN_CLUSTER_CIDR (e.g. 10.0.0.0/8) or PODWARDEN_NODE_CIDR_MASK_SIZE`
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), want) {
		t.Errorf("node-4: %v; want PermissionDenied with %q", err, want)
	}
	if _, err := e.nodes.GetNode(e.ctx(), &nodev1.GetNodeRequest{Name: "node-4"}); status.Code(err) != codes.NotFound {
		t.Errorf("node-4 stored: %v", err)
	}
	// Deleting a node frees its podCIDR.
	if _, err := e.nodes.DeleteNode(e.ctx(), &nodev1.DeleteNodeRequest{Name: "node-1"}); err != nil {
		t.Fatal(err)
	}
	if n, err := create("node-4"); err != nil || n.Spec.PodCidr != "10.244.1.0/24" {
		t.Errorf("node-4 after deleting node-1: %v, %v", n, err)
	}
}
