package ipam

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
)

// ServiceCIDR is the range ClusterIPs come from (kubeadm's default
// --service-cluster-ip-range).
const ServiceCIDR = "10.96.0.0/12"

// The ClusterIPs a cluster gives its own Services, from the start of the range.
const (
	KubernetesServiceIP = "10.96.0.1"  // default/kubernetes: the first address
	DNSServiceIP        = "10.96.0.10" // kube-system/kube-dns: the tenth
)

// NodePortMin and NodePortMax bound the node ports (--service-node-port-range).
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// NodePortRange is the node port range as Kubernetes prints it.
var NodePortRange = fmt.Sprintf("%d-%d", NodePortMin, NodePortMax)

var serviceRange = netip.MustParsePrefix(ServiceCIDR)

// staticBand is the size of the start of the range that random allocation
// leaves alone, so that addresses asked for by name (10.96.0.10 for DNS) stay
// free: Kubernetes' min(max(16, size/16), 256).
const staticBand = 256

// InServiceRange reports whether ip is a usable ClusterIP: inside ServiceCIDR,
// neither its network nor its broadcast address.
func InServiceRange(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() || !serviceRange.Contains(a) {
		return false
	}
	v := toUint(a)
	base := toUint(serviceRange.Addr())
	return v != base && v != base+serviceSize()-1
}

func serviceSize() uint32 { return uint32(1) << (32 - serviceRange.Bits()) }

// RandomServiceIP picks a candidate ClusterIP above the static band, as
// Kubernetes' allocator does; the caller claims it and tries again when taken.
func RandomServiceIP(r *rand.Rand) string {
	base := toUint(serviceRange.Addr())
	first, last := base+staticBand, base+serviceSize()-2
	return fromUint(first + uint32(r.Int64N(int64(last-first+1)))).String()
}

// RandomNodePort picks a node port of the range not in used, or 0 when every
// port is taken.
func RandomNodePort(r *rand.Rand, used map[int32]bool) int32 {
	n := NodePortMax - NodePortMin + 1
	start := r.IntN(n)
	for i := range n {
		p := int32(NodePortMin + (start+i)%n)
		if !used[p] {
			return p
		}
	}
	return 0
}

// InNodePortRange reports whether port is a valid node port.
func InNodePortRange(port int32) bool { return port >= NodePortMin && port <= NodePortMax }
