// Package sandbox gives pods a sandbox from Linux namespaces, where the machine
// allows it (Linux, root or CAP_NET_ADMIN+CAP_SYS_ADMIN): each pod a network
// namespace with its pod IP on a veth into a bridge, and processes run in it with
// the pod's hostname (a UTS namespace) and its own /etc/hosts, /etc/hostname and
// /etc/resolv.conf (a mount namespace). Services' ClusterIPs reach their ready
// endpoints through nftables rules, as kube-proxy's do.
//
// Nothing leaves the machine: the whole pod network (bridge, pods' veths, service
// rules, the cluster DNS's address) lives in a network namespace the node service
// creates and owns (the pod network), which has no default route and one link, a
// veth pair to the network namespace the node service runs in. There only the
// cluster's pod CIDR and service CIDR are routed into it, and only when no route
// of that namespace already covers them (RoutePlan). Everything is named with a
// per-instance prefix and kept under one state folder, so two node services never
// collide and a killed one's leftovers are removed at the next start.
package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Addresses of the pod network. The link between the node service's network
// namespace and the pod network is a /30 of link-local addresses; pods reach the
// pod network through a gateway address on its bridge (their own address is a
// /32, so every packet of theirs is routed by the pod network, as Calico does).
var (
	// LinkNet is the link's /30: LinkHost is the node service's end, LinkPeer
	// the pod network's.
	LinkNet  = netip.MustParsePrefix("169.254.123.0/30")
	LinkHost = netip.MustParseAddr("169.254.123.1")
	LinkPeer = netip.MustParseAddr("169.254.123.2")
	// Gateway is every pod's default gateway, the bridge's address.
	Gateway = netip.MustParseAddr("169.254.1.1")
)

// Names of the interfaces inside the pod network and the pods.
const (
	BridgeName = "cbr0"
	UplinkName = "uplink"
	PodIfName  = "eth0"
)

// InstanceID names one node service's pod network: the same for a restart of
// the same service (its database), different for two services.
func InstanceID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:8]
}

// HostLinkName is the name of the node service's end of the link (in its own
// network namespace): "pw" and the instance id, 10 characters.
func HostLinkName(id string) string { return "pw" + id }

// PodVethName is the name of a pod's veth end inside the pod network.
func PodVethName(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	return "veth" + hex.EncodeToString(sum[:])[:11]
}

// Route is a route of the node service's network namespace, as RoutePlan sees it.
type Route struct {
	Dst netip.Prefix // 0.0.0.0/0 for a default route
	Dev string
}

// RoutePlan decides which of the pod network's prefixes (the cluster CIDR, the
// service CIDR) may be routed from the node service's network namespace into the
// pod network: a prefix is refused when a route other than a default route
// overlaps it (it leads somewhere real: routing it here could capture traffic that
// belongs elsewhere), when an address of the namespace lies in it, or when it
// overlaps the link. A route of our own link (dev ownDev) is no obstacle: it is
// what a restart finds. Refused prefixes come back with the reason.
func RoutePlan(want []netip.Prefix, routes []Route, addrs []netip.Addr, ownDev string) (ok []netip.Prefix, refused map[netip.Prefix]string) {
	refused = map[netip.Prefix]string{}
	for _, p := range want {
		p = p.Masked()
		reason := ""
		switch {
		case !p.Addr().Is4():
			reason = "not an IPv4 prefix"
		case p.Bits() == 0:
			reason = "the whole address space"
		case p.Overlaps(LinkNet):
			reason = fmt.Sprintf("overlaps the pod network's link %s", LinkNet)
		}
		for _, r := range routes {
			if reason != "" {
				break
			}
			if r.Dst.Bits() == 0 || r.Dev == ownDev || !r.Dst.Overlaps(p) {
				continue
			}
			reason = fmt.Sprintf("the route %s dev %s overlaps it", r.Dst, r.Dev)
		}
		for _, a := range addrs {
			if reason == "" && p.Contains(a) {
				reason = fmt.Sprintf("the address %s lies in it", a)
			}
		}
		if reason != "" {
			refused[p] = reason
			continue
		}
		ok = append(ok, p)
	}
	return ok, refused
}

// ServicePort is one port of a Service as the proxy rules see it: traffic to
// ClusterIP:Port (and to the pod network's own addresses at NodePort, when set)
// goes to one of Endpoints, at random; with no endpoint it is rejected.
type ServicePort struct {
	Name      string // namespace/name:port, for the rules' comments
	ClusterIP netip.Addr
	Protocol  string // "TCP" or "UDP" (SCTP is not proxied)
	Port      uint16
	NodePort  uint16
	Endpoints []netip.AddrPort
}

// SortServicePorts orders ports for stable rule sets.
func SortServicePorts(ps []ServicePort) {
	sort.Slice(ps, func(a, b int) bool {
		if ps[a].ClusterIP != ps[b].ClusterIP {
			return ps[a].ClusterIP.Less(ps[b].ClusterIP)
		}
		if ps[a].Protocol != ps[b].Protocol {
			return ps[a].Protocol < ps[b].Protocol
		}
		return ps[a].Port < ps[b].Port
	})
}

// key is a stable identity of the whole rule set (rules are rewritten only when it changes).
func rulesKey(ps []ServicePort) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s %s %d %d", p.ClusterIP, p.Protocol, p.Port, p.NodePort)
		for _, e := range p.Endpoints {
			b.WriteString(" " + e.String())
		}
		b.WriteByte('\n')
	}
	return b.String()
}
