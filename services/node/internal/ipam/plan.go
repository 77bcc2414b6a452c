package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
)

// The settings of the address plan, named in its errors.
const (
	EnvClusterCIDR  = "PODWARDEN_CLUSTER_CIDR"
	EnvNodeMaskSize = "PODWARDEN_NODE_CIDR_MASK_SIZE"
	EnvNodeNetwork  = "PODWARDEN_NODE_NETWORK"
)

// Defaults of the address plan: kubeadm's usual pod network (flannel's
// 10.244.0.0/16) cut in kube-controller-manager's default /24 per node, and
// the nodes on kind's docker network.
const (
	DefaultClusterCIDR      = "10.244.0.0/16"
	DefaultNodeCIDRMaskSize = 24
	DefaultNodeNetwork      = "172.18.0.0/16"
	// MaxNodeCIDRMaskSize: a node's podCIDR needs room for the network
	// address, the gateway, one pod and the broadcast address.
	MaxNodeCIDRMaskSize = 30
)

// ErrPlanFull means every podCIDR (or node address) of the plan is taken.
var ErrPlanFull = errors.New("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")

// Plan is the fleet's address plan, what kube-controller-manager's range
// allocator gets from --cluster-cidr and --node-cidr-mask-size. PodCIDR(i) is
// the i-th podCIDR of that size in the cluster CIDR (those overlapping the
// Service range are skipped, as the allocator occupies them at start);
// NodeIP(i) the i-th address of the node network from .2 on (the network
// address and the gateway are skipped, as is the broadcast address). A fresh
// fleet's node i gets both; a node added later gets the first free of each.
type Plan struct {
	cluster  netip.Prefix
	mask     int
	nodes    netip.Prefix
	cidrs    int // 2^(mask - cluster prefix)
	svcLo    int // raw indexes [svcLo, svcHi] overlap the Service range; svcLo > svcHi: none
	svcHi    int
	nodeIPs  int // usable addresses of the node network
	capacity int
}

// DefaultPlan is the plan of the defaults.
func DefaultPlan() Plan {
	p, err := NewPlan(DefaultClusterCIDR, DefaultNodeCIDRMaskSize, DefaultNodeNetwork)
	if err != nil {
		panic(err)
	}
	return p
}

// NewPlan checks and builds a plan (empty strings and a zero mask size take
// the defaults). The cluster CIDR is masked, like kube-controller-manager
// does; the mask size must be at least the cluster CIDR's prefix length
// (equal: one node) and at most 30; the node network must not overlap the
// cluster CIDR or the Service range.
func NewPlan(clusterCIDR string, maskSize int, nodeNetwork string) (Plan, error) {
	if clusterCIDR == "" {
		clusterCIDR = DefaultClusterCIDR
	}
	if maskSize == 0 {
		maskSize = DefaultNodeCIDRMaskSize
	}
	if nodeNetwork == "" {
		nodeNetwork = DefaultNodeNetwork
	}
	cluster, err := parseV4(clusterCIDR, EnvClusterCIDR, "cluster CIDR")
	if err != nil {
		return Plan{}, err
	}
	nodes, err := parseV4(nodeNetwork, EnvNodeNetwork, "node network")
	if err != nil {
		return Plan{}, err
	}
	switch {
	case maskSize < cluster.Bits():
		return Plan{}, fmt.Errorf("invalid %s %s: mask size of cluster CIDR must be less than or equal to %s (%d)",
			EnvClusterCIDR, cluster, EnvNodeMaskSize, maskSize)
	case maskSize > MaxNodeCIDRMaskSize:
		return Plan{}, fmt.Errorf("invalid %s %d: must be at most %d (a node's podCIDR needs 4 addresses: network, gateway, a pod, broadcast)",
			EnvNodeMaskSize, maskSize, MaxNodeCIDRMaskSize)
	case nodes.Bits() > 30:
		return Plan{}, fmt.Errorf("invalid %s %s: want at least 4 addresses (a /30 or larger)", EnvNodeNetwork, nodes)
	case nodes.Overlaps(cluster):
		return Plan{}, fmt.Errorf("invalid %s %s: overlaps %s %s (node and pod addresses would collide)", EnvNodeNetwork, nodes, EnvClusterCIDR, cluster)
	case nodes.Overlaps(serviceRange):
		return Plan{}, fmt.Errorf("invalid %s %s: overlaps the Service range %s", EnvNodeNetwork, nodes, ServiceCIDR)
	}
	p := Plan{cluster: cluster, mask: maskSize, nodes: nodes, cidrs: 1 << (maskSize - cluster.Bits()), svcLo: 1, svcHi: 0}
	if lo, hi, ok := p.rawRange(serviceRange); ok {
		p.svcLo, p.svcHi = lo, hi
	}
	p.nodeIPs = 1<<(32-nodes.Bits()) - 3
	p.capacity = min(p.podCIDRs(), p.nodeIPs)
	return p, nil
}

func parseV4(s, env, what string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid %s %q: %w", env, s, err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("invalid %s %q: the %s must be IPv4", env, s, what)
	}
	return p.Masked(), nil
}

// ClusterCIDR is the plan's cluster CIDR ("10.244.0.0/16").
func (p Plan) ClusterCIDR() string { return p.cluster.String() }

// NodeMaskSize is the prefix length of each node's podCIDR (24).
func (p Plan) NodeMaskSize() int { return p.mask }

// NodeNetwork is the network the nodes' InternalIPs come from ("172.18.0.0/16").
func (p Plan) NodeNetwork() string { return p.nodes.String() }

// MaxCIDRs is the number of podCIDRs the cluster CIDR is cut into:
// 2^(mask size - cluster prefix length), as kube-controller-manager's cidrset.
func (p Plan) MaxCIDRs() int { return p.cidrs }

// Capacity is how many nodes the plan holds: the podCIDRs outside the Service
// range, and no more than the node network's addresses.
func (p Plan) Capacity() int { return p.capacity }

func (p Plan) skipped() int { return max(0, p.svcHi-p.svcLo+1) }

func (p Plan) podCIDRs() int { return p.cidrs - p.skipped() }

// Holds reports, with an error naming the settings to change, whether the
// plan has room for n nodes.
func (p Plan) Holds(n int) error {
	if n <= p.capacity {
		return nil
	}
	if p.podCIDRs() <= p.nodeIPs {
		skipped := ""
		if p.skipped() > 0 {
			skipped = fmt.Sprintf(" (%d podCIDRs less the %d that overlap the Service range %s)", p.cidrs, p.skipped(), ServiceCIDR)
		}
		return fmt.Errorf("cluster CIDR %s with node mask /%d holds %d nodes%s; %d asked: set %s (e.g. 10.0.0.0/8) or %s",
			p.cluster, p.mask, p.podCIDRs(), skipped, n, EnvClusterCIDR, EnvNodeMaskSize)
	}
	return fmt.Errorf("node network %s holds %d nodes; %d asked: set %s (e.g. 172.16.0.0/12)", p.nodes, p.nodeIPs, n, EnvNodeNetwork)
}

// raw is the cidrset index of the podCIDR of node index i.
func (p Plan) raw(i int) int {
	if p.svcLo <= p.svcHi && i >= p.svcLo {
		return i + p.skipped()
	}
	return i
}

// PodCIDR is the podCIDR of the node with this index ("" past the last one).
func (p Plan) PodCIDR(index int) string {
	if index < 0 || index >= p.podCIDRs() {
		return ""
	}
	base := toUint(p.cluster.Addr()) | uint32(p.raw(index))<<(32-p.mask)
	return netip.PrefixFrom(fromUint(base), p.mask).String()
}

// NodeIP is the InternalIP of the node with this index ("" past the node network).
func (p Plan) NodeIP(index int) string {
	if index < 0 || index >= p.nodeIPs {
		return ""
	}
	return fromUint(toUint(p.nodes.Addr()) + 2 + uint32(index)).String()
}

// IndexOf is the node index whose podCIDR is cidr (false when cidr is not
// one of the plan's podCIDRs: another size, outside the cluster CIDR, or in
// the Service range).
func (p Plan) IndexOf(cidr string) (int, bool) {
	c, err := netip.ParsePrefix(cidr)
	if err != nil || c.Bits() != p.mask || c.Masked() != c {
		return 0, false
	}
	lo, _, ok := p.rawRange(c)
	if !ok || p.svcLo <= lo && lo <= p.svcHi {
		return 0, false
	}
	i := lo
	if p.svcLo <= p.svcHi && lo > p.svcHi {
		i -= p.skipped()
	}
	return i, i < p.podCIDRs()
}

// rawRange is the range of cidrset indexes whose podCIDRs overlap c, like
// cidrset's getBeginningAndEndIndices (false: no overlap).
func (p Plan) rawRange(c netip.Prefix) (lo, hi int, ok bool) {
	c = c.Masked()
	if !c.Addr().Is4() || !c.Overlaps(p.cluster) {
		return 0, 0, false
	}
	if c.Bits() <= p.cluster.Bits() { // c holds the whole cluster CIDR
		return 0, p.cidrs - 1, true
	}
	shift := 32 - p.mask
	off := toUint(c.Addr()) - toUint(p.cluster.Addr())
	lo = int(off >> shift)
	if c.Bits() >= p.mask {
		return lo, lo, true
	}
	return lo, int((off + (uint32(1)<<(32-c.Bits()) - 1)) >> shift), true
}

// FreePodCIDR is the smallest node index whose podCIDR overlaps none of
// podCIDRs (whatever plan they came from: nodes keep theirs across plan
// changes). It fails with ErrPlanFull, naming the plan, when none is left.
func (p Plan) FreePodCIDR(podCIDRs []string) (int, error) {
	type span struct{ lo, hi int }
	var taken []span
	for _, s := range podCIDRs {
		c, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		if lo, hi, ok := p.rawRange(c); ok {
			taken = append(taken, span{lo, hi})
		}
	}
	sort.Slice(taken, func(i, j int) bool { return taken[i].lo < taken[j].lo })
	j := 0
	for i := range p.podCIDRs() {
		r := p.raw(i) // grows with i: the spans behind it are done with
		for j < len(taken) && taken[j].hi < r {
			j++
		}
		if j < len(taken) && taken[j].lo <= r {
			continue
		}
		return i, nil
	}
	return 0, fmt.Errorf("%w: cluster CIDR %s with node mask /%d holds %d nodes, all taken: set %s (e.g. 10.0.0.0/8) or %s",
		ErrPlanFull, p.cluster, p.mask, p.podCIDRs(), EnvClusterCIDR, EnvNodeMaskSize)
}

// FreeNodeIP is the smallest node index whose InternalIP is none of nodeIPs;
// ErrPlanFull, naming the node network, when none is left.
func (p Plan) FreeNodeIP(nodeIPs []string) (int, error) {
	used := map[int]bool{}
	base := toUint(p.nodes.Addr()) + 2
	for _, s := range nodeIPs {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() && p.nodes.Contains(a) && toUint(a) >= base {
			used[int(toUint(a)-base)] = true
		}
	}
	for i := range p.nodeIPs {
		if !used[i] {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: node network %s holds %d nodes, all taken: set %s (e.g. 172.16.0.0/12)", ErrPlanFull, p.nodes, p.nodeIPs, EnvNodeNetwork)
}
