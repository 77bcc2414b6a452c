package clusterdns

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Answer is the reply to req from idx, CoreDNS' kubernetes plugin's way:
//   - <svc>.<ns>.svc.<zone> A: the ClusterIP; for a headless Service every
//     ready endpoint (NXDOMAIN when there is none); ExternalName: a CNAME;
//   - <hostname>.<svc>.<ns>.svc.<zone> A: that endpoint (its hostname field, or
//     its IP with dashes);
//   - _<port>._<proto>.<svc>.<ns>.svc.<zone> SRV (and <svc>.<ns>.svc.<zone> SRV
//     for every port): the Service name as target for a ClusterIP, one record
//     per ready endpoint for a headless Service, with the targets' A records
//     in the additional section;
//   - <a-b-c-d>.<ns>.pod.<zone> A: a.b.c.d (the specification's pod records,
//     CoreDNS' "pods insecure");
//   - PTR in in-addr.arpa for ClusterIPs and ready endpoint IPs;
//   - SOA and NS at the apex, TXT dns-version.<zone>;
//   - NXDOMAIN with the SOA for names of the zone that do not exist, NOERROR
//     with no answer (NODATA) for names that exist with another type, REFUSED
//     outside cluster.local and in-addr.arpa.
//
// Names match case-insensitively; answers carry the question's name as asked.
func Answer(idx *Index, req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		m.Authoritative = false
		m.Rcode = dns.RcodeFormatError
		if req.Opcode != dns.OpcodeQuery {
			m.Rcode = dns.RcodeNotImplemented
		}
		return m
	}
	q := req.Question[0]
	name := strings.ToLower(dns.Fqdn(q.Name))
	switch {
	case dns.IsSubDomain(Zone, name):
		answerZone(idx, m, q, name)
	case dns.IsSubDomain(reverseZone, name):
		answerReverse(idx, m, q, name)
	default:
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
	}
	return m
}

const reverseZone = "in-addr.arpa."

// result is what a name holds: records by type; exists tells NODATA from NXDOMAIN.
type result struct {
	exists bool
	a      []string // IPv4 addresses
	cname  string
	srv    []srvTarget
}

type srvTarget struct {
	port   int32
	target string // FQDN, lower case
	ip     string // its address, for the additional section
}

func answerZone(idx *Index, m *dns.Msg, q dns.Question, name string) {
	r := lookup(idx, name)
	if !r.exists {
		nxdomain(idx, m, Zone)
		return
	}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
	}
	switch {
	case name == Zone && q.Qtype == dns.TypeSOA:
		m.Answer = append(m.Answer, soa(idx, Zone))
	case name == Zone && q.Qtype == dns.TypeNS:
		m.Answer = append(m.Answer, &dns.NS{Hdr: hdr(dns.TypeNS), Ns: nsName})
		if idx.DNSIP != "" {
			m.Extra = append(m.Extra, aRecord(nsName, idx.DNSIP))
		}
	case name == "dns-version."+Zone && q.Qtype == dns.TypeTXT:
		m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{SchemaVersion}})
	case r.cname != "" && q.Qtype != dns.TypeSRV:
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: r.cname})
	case q.Qtype == dns.TypeA:
		for _, ip := range r.a {
			rr := aRecord(q.Name, ip)
			m.Answer = append(m.Answer, rr)
		}
	case q.Qtype == dns.TypeSRV:
		weight := uint16(100)
		if len(r.srv) > 1 {
			weight = uint16(100 / len(r.srv))
		}
		seen := map[string]bool{}
		for _, s := range r.srv {
			m.Answer = append(m.Answer, &dns.SRV{Hdr: hdr(dns.TypeSRV), Priority: 0, Weight: weight, Port: uint16(s.port), Target: s.target})
			if s.ip != "" && !seen[s.target+s.ip] {
				seen[s.target+s.ip] = true
				m.Extra = append(m.Extra, aRecord(s.target, s.ip))
			}
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = append(m.Ns, soa(idx, Zone)) // NODATA
	}
}

const nsName = "ns.dns." + Zone

func aRecord(name, ip string) *dns.A {
	a, _ := netip.ParseAddr(ip)
	b := a.As4()
	return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: TTL}, A: b[:]}
}

func soa(idx *Index, zone string) *dns.SOA {
	return &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: TTL},
		Ns: nsName, Mbox: "hostmaster." + Zone, Serial: idx.Serial, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: TTL}
}

func nxdomain(idx *Index, m *dns.Msg, zone string) {
	m.Rcode = dns.RcodeNameError
	m.Ns = append(m.Ns, soa(idx, zone))
}

// lookup resolves a lower-case FQDN of the zone.
func lookup(idx *Index, name string) result {
	base := strings.TrimSuffix(strings.TrimSuffix(name, Zone), ".")
	switch base {
	case "", "svc", "pod":
		return result{exists: true}
	case "dns-version":
		return result{exists: true}
	case "ns.dns":
		if idx.DNSIP == "" {
			return result{}
		}
		return result{exists: true, a: []string{idx.DNSIP}}
	case "dns":
		return result{exists: idx.DNSIP != ""}
	}
	segs := dns.SplitDomainName(base)
	last := len(segs) - 1
	kind := segs[last]
	if kind != "svc" && kind != "pod" || last < 1 {
		return result{}
	}
	namespace := segs[last-1]
	rest := segs[:last-1]
	if kind == "pod" {
		return lookupPod(namespace, rest)
	}
	if len(rest) == 0 {
		return result{exists: idx.namespaces[namespace]}
	}
	svc := idx.services[namespace+"/"+rest[len(rest)-1]]
	if svc == nil {
		return result{}
	}
	var endpoint, portName, proto string
	switch len(rest) {
	case 1:
	case 2:
		endpoint = rest[0]
	case 3:
		portName, proto = strings.TrimPrefix(rest[0], "_"), strings.TrimPrefix(rest[1], "_")
	default:
		return result{}
	}
	return lookupService(svc, endpoint, portName, proto)
}

func lookupPod(namespace string, rest []string) result {
	if len(rest) == 0 {
		return result{exists: true}
	}
	if len(rest) != 1 || strings.Count(rest[0], "-") != 3 {
		return result{}
	}
	a, err := netip.ParseAddr(strings.ReplaceAll(rest[0], "-", "."))
	if err != nil || !a.Is4() {
		return result{}
	}
	return result{exists: true, a: []string{a.String()}}
}

func matchPort(wantName, wantProto string, p port) bool {
	return (wantName == "" || wantName == p.name) && (wantProto == "" || wantProto == p.protocol)
}

func lookupService(svc *service, endpoint, portName, proto string) result {
	fqdn := svc.name + "." + svc.namespace + ".svc." + Zone
	if svc.externalName != "" {
		if endpoint != "" || portName != "" {
			return result{}
		}
		return result{exists: true, cname: svc.externalName}
	}
	var r result
	seenIP := map[string]bool{}
	if svc.headless || endpoint != "" {
		for _, ss := range svc.subsets {
			for _, a := range ss.addrs {
				if endpoint != "" && endpoint != a.hostname {
					continue
				}
				ports := ss.ports
				if len(ports) == 0 {
					ports = []port{{port: -1}} // addresses without ports still have A records
				}
				for _, p := range ports {
					if !matchPort(portName, proto, p) {
						continue
					}
					r.exists = true
					if !seenIP[a.ip] {
						seenIP[a.ip] = true
						r.a = append(r.a, a.ip)
					}
					if p.port >= 0 {
						r.srv = append(r.srv, srvTarget{port: p.port, target: a.hostname + "." + fqdn, ip: a.ip})
					}
				}
			}
		}
		return r
	}
	for _, p := range svc.ports {
		if !matchPort(portName, proto, p) {
			continue
		}
		r.exists = true
		for _, ip := range svc.clusterIPs {
			if !seenIP[ip] {
				seenIP[ip] = true
				r.a = append(r.a, ip)
			}
			r.srv = append(r.srv, srvTarget{port: p.port, target: fqdn, ip: ip})
		}
	}
	return r
}

// answerReverse answers PTR queries for ClusterIPs and ready endpoint IPs.
func answerReverse(idx *Index, m *dns.Msg, q dns.Question, name string) {
	ip, ok := reverseIP(name)
	if !ok {
		// The apex, or a name above a full address: it exists, with no record but the SOA.
		if name == reverseZone && q.Qtype == dns.TypeSOA {
			m.Answer = append(m.Answer, soa(idx, reverseZone))
			return
		}
		m.Ns = append(m.Ns, soa(idx, reverseZone))
		return
	}
	targets := idx.namesOf(ip)
	switch {
	case len(targets) == 0:
		nxdomain(idx, m, reverseZone)
	case q.Qtype != dns.TypePTR:
		m.Ns = append(m.Ns, soa(idx, reverseZone))
	default:
		for _, t := range targets {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: TTL}, Ptr: t})
		}
	}
}

// reverseIP turns d.c.b.a.in-addr.arpa. into a.b.c.d.
func reverseIP(name string) (string, bool) {
	labels := dns.SplitDomainName(strings.TrimSuffix(name, reverseZone))
	if len(labels) != 4 {
		return "", false
	}
	a, err := netip.ParseAddr(labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0])
	if err != nil {
		return "", false
	}
	return a.String(), true
}

// namesOf lists the names an IP has: <svc>.<ns>.svc.<zone> for a ClusterIP,
// <hostname>.<svc>.<ns>.svc.<zone> for a ready endpoint.
func (idx *Index) namesOf(ip string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range idx.services {
		fqdn := s.name + "." + s.namespace + ".svc." + Zone
		for _, c := range s.clusterIPs {
			if c == ip && !seen[fqdn] {
				seen[fqdn] = true
				out = append(out, fqdn)
			}
		}
		for _, ss := range s.subsets {
			for _, a := range ss.addrs {
				if n := a.hostname + "." + fqdn; a.ip == ip && !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
