package clusterdns

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func svc(ns, name, typ, clusterIP string, ports ...*nodev1.ServicePort) *nodev1.Service {
	s := &nodev1.Service{Metadata: &corev1.ObjectMeta{Namespace: ns, Name: name},
		Spec: &nodev1.ServiceSpec{Type: typ, ClusterIp: clusterIP, Ports: ports}}
	if clusterIP != "" {
		s.Spec.ClusterIps = []string{clusterIP}
	}
	return s
}

func sport(name, proto string, n int32) *nodev1.ServicePort {
	return &nodev1.ServicePort{Name: name, Protocol: proto, Port: n}
}

func eps(ns, name string, subsets ...*nodev1.EndpointSubset) *nodev1.Endpoints {
	return &nodev1.Endpoints{Metadata: &corev1.ObjectMeta{Namespace: ns, Name: name}, Subsets: subsets}
}

func epAddr(ip, hostname string) *nodev1.EndpointAddress {
	return &nodev1.EndpointAddress{Ip: ip, Hostname: hostname}
}

// testIndex: a ClusterIP Service web (ports http 80/TCP, dns 53/UDP), a
// headless nginx with two ready pods (web-0 with a hostname, one without) and
// an unready one, a headless empty with no ready endpoint, an ExternalName
// ext, a headless noports whose endpoints have no ports, and kube-dns.
func testIndex() *Index {
	ext := svc("default", "ext", "ExternalName", "")
	ext.Spec.ExternalName = "www.example.com"
	return NewIndex(
		[]*nodev1.Service{
			svc("default", "web", "ClusterIP", "10.96.5.5", sport("http", "TCP", 80), sport("dns", "UDP", 53)),
			svc("default", "nginx", "ClusterIP", "None", sport("web", "TCP", 80)),
			svc("prod", "empty", "ClusterIP", "None", sport("web", "TCP", 80)),
			ext,
			svc("default", "noports", "ClusterIP", "None"),
			svc("kube-system", "kube-dns", "ClusterIP", "10.96.0.10", sport("dns", "UDP", 53), sport("dns-tcp", "TCP", 53)),
		},
		[]*nodev1.Endpoints{
			eps("default", "web", &nodev1.EndpointSubset{Addresses: []*nodev1.EndpointAddress{epAddr("10.244.1.7", "")},
				Ports: []*nodev1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}}}),
			eps("default", "nginx", &nodev1.EndpointSubset{
				Addresses:         []*nodev1.EndpointAddress{epAddr("10.244.1.2", "web-0"), epAddr("10.244.2.3", "")},
				NotReadyAddresses: []*nodev1.EndpointAddress{epAddr("10.244.2.9", "web-2")},
				Ports:             []*nodev1.EndpointPort{{Name: "web", Port: 80, Protocol: "TCP"}}}),
			eps("prod", "empty", &nodev1.EndpointSubset{NotReadyAddresses: []*nodev1.EndpointAddress{epAddr("10.244.1.4", "")},
				Ports: []*nodev1.EndpointPort{{Name: "web", Port: 80, Protocol: "TCP"}}}),
			eps("default", "noports", &nodev1.EndpointSubset{Addresses: []*nodev1.EndpointAddress{epAddr("10.244.3.3", "")}}),
		},
		42)
}

// rrs renders records without their header but for the owner name when it
// differs from the question's.
func rrs(list []dns.RR, qname string) []string {
	var out []string
	for _, rr := range list {
		h := rr.Header()
		s := strings.TrimPrefix(rr.String(), h.String())
		if h.Name != qname {
			s = h.Name + " " + s
		}
		if h.Ttl != TTL {
			s += fmt.Sprintf(" (ttl %d)", h.Ttl)
		}
		out = append(out, dns.TypeToString[h.Rrtype]+" "+s)
	}
	return out
}

func TestAnswer(t *testing.T) {
	const soa = "SOA cluster.local. ns.dns.cluster.local. hostmaster.cluster.local. 42 7200 1800 86400 5"
	cases := map[string]struct {
		name   string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
		ns     []string
	}{
		"clusterIP A": {name: "web.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"A 10.96.5.5"}},
		"case-insensitive, answer keeps the question's name": {name: "WEB.Default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"A 10.96.5.5"}},
		"headless A: every ready endpoint": {name: "nginx.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"A 10.244.1.2", "A 10.244.2.3"}},
		"endpoint by hostname": {name: "web-0.nginx.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"A 10.244.1.2"}},
		"endpoint without hostname by dashed IP": {name: "10-244-2-3.nginx.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"A 10.244.2.3"}},
		"unready endpoint has no record":             {name: "web-2.nginx.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		"endpoint of a ClusterIP service":            {name: "10-244-1-7.web.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"A 10.244.1.7"}},
		"headless without ready endpoints: NXDOMAIN": {name: "empty.prod.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		"headless endpoints without ports":           {name: "noports.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"A 10.244.3.3"}},
		"headless SRV: one per endpoint, A records added": {name: "_web._tcp.nginx.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"SRV 0 50 80 web-0.nginx.default.svc.cluster.local.", "SRV 0 50 80 10-244-2-3.nginx.default.svc.cluster.local."},
			extra:  []string{"A web-0.nginx.default.svc.cluster.local. 10.244.1.2", "A 10-244-2-3.nginx.default.svc.cluster.local. 10.244.2.3"}},
		"clusterIP SRV targets the service": {name: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"SRV 0 100 80 web.default.svc.cluster.local."}, extra: []string{"A web.default.svc.cluster.local. 10.96.5.5"}},
		"SRV on the service name: every port": {name: "web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"SRV 0 50 80 web.default.svc.cluster.local.", "SRV 0 50 53 web.default.svc.cluster.local."},
			extra:  []string{"A 10.96.5.5"}},
		"SRV with a udp port":                 {name: "_dns._udp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, answer: []string{"SRV 0 100 53 web.default.svc.cluster.local."}, extra: []string{"A web.default.svc.cluster.local. 10.96.5.5"}},
		"SRV of an unknown port: NXDOMAIN":    {name: "_nope._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, ns: []string{soa}},
		"SRV with the wrong protocol":         {name: "_http._udp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, ns: []string{soa}},
		"port and protocol with A":            {name: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"A 10.96.5.5"}},
		"unknown service: NXDOMAIN":           {name: "nope.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		"existing name, other type: NODATA":   {name: "web.default.svc.cluster.local.", qtype: dns.TypeAAAA, ns: []string{soa}},
		"TXT of a service: NODATA":            {name: "nginx.default.svc.cluster.local.", qtype: dns.TypeTXT, ns: []string{soa}},
		"namespace with services: NODATA":     {name: "prod.svc.cluster.local.", qtype: dns.TypeA, ns: []string{soa}},
		"system namespace: NODATA":            {name: "kube-public.svc.cluster.local.", qtype: dns.TypeA, ns: []string{soa}},
		"unknown namespace: NXDOMAIN":         {name: "nowhere.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		"neither svc nor pod: NXDOMAIN":       {name: "web.default.foo.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		"too many labels: NXDOMAIN":           {name: "a.b.c.web.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		"svc apex: NODATA":                    {name: "svc.cluster.local.", qtype: dns.TypeA, ns: []string{soa}},
		"ExternalName: CNAME":                 {name: "ext.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"CNAME www.example.com."}},
		"pod record":                          {name: "10-244-1-2.default.pod.cluster.local.", qtype: dns.TypeA, answer: []string{"A 10.244.1.2"}},
		"pod record that is no IP: NXDOMAIN":  {name: "10-244-1.default.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		"zone SOA":                            {name: "cluster.local.", qtype: dns.TypeSOA, answer: []string{strings.Replace(soa, " cluster.local.", "", 1)}},
		"zone NS with the kube-dns address":   {name: "cluster.local.", qtype: dns.TypeNS, answer: []string{"NS ns.dns.cluster.local."}, extra: []string{"A ns.dns.cluster.local. 10.96.0.10"}},
		"ns.dns A":                            {name: "ns.dns.cluster.local.", qtype: dns.TypeA, answer: []string{"A 10.96.0.10"}},
		"schema version":                      {name: "dns-version.cluster.local.", qtype: dns.TypeTXT, answer: []string{`TXT "1.1.0"`}},
		"outside the zone: REFUSED":           {name: "example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		"a zone that merely ends alike":       {name: "notcluster.local.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		"PTR of a ClusterIP":                  {name: "5.5.96.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"PTR web.default.svc.cluster.local."}},
		"PTR of a ready endpoint":             {name: "2.1.244.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"PTR web-0.nginx.default.svc.cluster.local."}},
		"PTR of an unknown address: NXDOMAIN": {name: "9.9.9.9.in-addr.arpa.", qtype: dns.TypePTR, rcode: dns.RcodeNameError, ns: []string{strings.Replace(soa, "SOA cluster.local.", "SOA in-addr.arpa.", 1)}},
	}
	idx := testIndex()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := new(dns.Msg)
			req.SetQuestion(tc.name, tc.qtype)
			m := Answer(idx, req)
			if m.Rcode != tc.rcode || m.Id != req.Id || !m.Response {
				t.Fatalf("rcode %s (want %s), id %d/%d, response %v", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode], m.Id, req.Id, m.Response)
			}
			got, extra, ns := rrs(m.Answer, tc.name), rrs(m.Extra, tc.name), rrs(m.Ns, "")
			if !slices.Equal(got, tc.answer) || !slices.Equal(extra, tc.extra) || !slices.Equal(ns, tc.ns) {
				t.Errorf("answer %q\n want %q\nextra %q\n want %q\nauthority %q\n want %q", got, tc.answer, extra, tc.extra, ns, tc.ns)
			}
			if m.Rcode != dns.RcodeRefused && !m.Authoritative {
				t.Errorf("not authoritative")
			}
		})
	}
}

func TestIndexWith(t *testing.T) {
	idx := testIndex()
	gone := idx.With("default", "web", nil, nil, 43)
	if gone.Len() != idx.Len()-1 || idx.Len() != 6 || gone.Serial != 43 {
		t.Fatalf("lens %d -> %d, serial %d", idx.Len(), gone.Len(), gone.Serial)
	}
	req := new(dns.Msg)
	req.SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
	if m := Answer(gone, req); m.Rcode != dns.RcodeNameError {
		t.Fatalf("deleted service answered %s", dns.RcodeToString[m.Rcode])
	}
	if m := Answer(idx, req); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
		t.Fatalf("the original index changed: %v", m)
	}
	back := gone.With("default", "web", svc("default", "web", "ClusterIP", "10.96.7.7", sport("http", "TCP", 80)), nil, 44)
	if m := Answer(back, req); len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "10.96.7.7" {
		t.Fatalf("re-added service: %v", m.Answer)
	}
}
