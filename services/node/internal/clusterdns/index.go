// Package clusterdns is the cluster DNS of the node service, after CoreDNS's
// kubernetes plugin and the Kubernetes DNS specification: an immutable Index
// of Services and their ready endpoints, a pure Answer function from an Index
// and a question to a reply, a Feeder that keeps an Index current from the
// node service's watch caches on every replica, and a UDP+TCP Server.
package clusterdns

import (
	"maps"
	"net/netip"
	"strings"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Zone is the cluster domain.
const Zone = "cluster.local."

// TTL of every record, CoreDNS' kubernetes plugin default.
const TTL = 5

// SchemaVersion is the version of the Kubernetes DNS schema served (TXT
// dns-version.cluster.local).
const SchemaVersion = "1.1.0"

// systemNamespaces exist in every cluster, Services or not.
var systemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// Index is what the DNS answers from: every Service with its ready endpoints.
// It is immutable; With returns a changed copy.
type Index struct {
	services   map[string]*service // by lower-case "namespace/name"
	namespaces map[string]bool
	// Serial is the SOA serial: the resource version the index reflects.
	Serial uint32
	// DNSIP is the address of ns.dns.<zone>: kube-system/kube-dns's ClusterIP.
	DNSIP string
}

type service struct {
	name, namespace string // lower case
	externalName    string
	headless        bool
	clusterIPs      []string
	ports           []port
	subsets         []subset
}

type port struct {
	name, protocol string // lower case
	port           int32
}

type subset struct {
	addrs []address
	ports []port // a headless Service without ports: none
}

type address struct {
	ip       string
	hostname string // the endpoint's hostname, or its IP with dashes
}

// NewIndex builds an index of svcs and their Endpoints (by namespace/name).
func NewIndex(svcs []*nodev1.Service, eps []*nodev1.Endpoints, serial uint32) *Index {
	byKey := map[string]*nodev1.Endpoints{}
	for _, e := range eps {
		byKey[key(e.GetMetadata().GetNamespace(), e.GetMetadata().GetName())] = e
	}
	idx := &Index{services: map[string]*service{}, Serial: serial}
	for _, s := range svcs {
		m := s.GetMetadata()
		k := key(m.GetNamespace(), m.GetName())
		idx.services[k] = newService(s, byKey[k])
	}
	idx.finish()
	return idx
}

// With returns a copy of idx where the Service namespace/name is svc with
// endpoints ep (svc nil: gone).
func (idx *Index) With(namespace, name string, svc *nodev1.Service, ep *nodev1.Endpoints, serial uint32) *Index {
	out := &Index{services: maps.Clone(idx.services), Serial: serial}
	k := key(namespace, name)
	if svc == nil {
		delete(out.services, k)
	} else {
		out.services[k] = newService(svc, ep)
	}
	out.finish()
	return out
}

// Len is the number of Services indexed.
func (idx *Index) Len() int { return len(idx.services) }

func key(namespace, name string) string { return strings.ToLower(namespace + "/" + name) }

// finish derives the known namespaces and the DNS address.
func (idx *Index) finish() {
	idx.namespaces = map[string]bool{}
	for _, ns := range systemNamespaces {
		idx.namespaces[ns] = true
	}
	for _, s := range idx.services {
		idx.namespaces[s.namespace] = true
	}
	idx.DNSIP = ""
	if s := idx.services[key(dnsNamespace, dnsService)]; s != nil && len(s.clusterIPs) > 0 {
		idx.DNSIP = s.clusterIPs[0]
	}
}

// The Service whose ClusterIP is the DNS server's address (ns.dns.<zone>).
const (
	dnsNamespace = "kube-system"
	dnsService   = "kube-dns"
)

func newService(s *nodev1.Service, ep *nodev1.Endpoints) *service {
	m, sp := s.GetMetadata(), s.GetSpec()
	out := &service{name: strings.ToLower(m.GetName()), namespace: strings.ToLower(m.GetNamespace())}
	if sp.GetType() == "ExternalName" {
		out.externalName = strings.TrimSuffix(sp.GetExternalName(), ".") + "."
		return out
	}
	ips := sp.GetClusterIps()
	if len(ips) == 0 && sp.GetClusterIp() != "" {
		ips = []string{sp.GetClusterIp()}
	}
	for _, ip := range ips {
		if ip == "None" {
			out.headless = true
			continue
		}
		if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
			out.clusterIPs = append(out.clusterIPs, a.String())
		}
	}
	for _, p := range sp.GetPorts() {
		out.ports = append(out.ports, port{name: strings.ToLower(p.GetName()), protocol: strings.ToLower(p.GetProtocol()), port: p.GetPort()})
	}
	for _, ss := range ep.GetSubsets() {
		var sub subset
		for _, a := range ss.GetAddresses() {
			ip, err := netip.ParseAddr(a.GetIp())
			if err != nil || !ip.Is4() {
				continue
			}
			h := strings.ToLower(a.GetHostname())
			if h == "" {
				h = strings.ReplaceAll(ip.String(), ".", "-")
			}
			sub.addrs = append(sub.addrs, address{ip: ip.String(), hostname: h})
		}
		for _, p := range ss.GetPorts() {
			sub.ports = append(sub.ports, port{name: strings.ToLower(p.GetName()), protocol: strings.ToLower(p.GetProtocol()), port: p.GetPort()})
		}
		if len(sub.addrs) > 0 {
			out.subsets = append(out.subsets, sub)
		}
	}
	return out
}
