package streams

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/podwarden/podwarden/services/node/internal/simsh"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// SearchPath is a ClusterFirst pod's DNS search path.
func SearchPath(namespace string) []string {
	return []string{namespace + ".svc." + ClusterDomain, "svc." + ClusterDomain, ClusterDomain}
}

// Candidates are the names a resolver tries for name with the pod's search
// path and ndots:5: the search domains first unless name has 5 dots or is
// absolute.
func Candidates(name string, search []string) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	var out []string
	for _, d := range search {
		out = append(out, name+"."+d+".")
	}
	if strings.Count(name, ".") >= 5 {
		return append([]string{name + "."}, out...)
	}
	return append(out, name+".")
}

var errNXDomain = errors.New("NXDOMAIN")

// lookup is the sim shell's resolver for pod p: the cluster DNS, with the
// pod's search path; nil when the cluster DNS is off.
func (s *Server) lookup(p *corev1.Pod) func(ctx context.Context, name string) (simsh.Answer, error) {
	if s.cfg.DNSAddr == "" {
		return nil
	}
	search := SearchPath(p.GetMetadata().GetNamespace())
	return func(ctx context.Context, name string) (simsh.Answer, error) {
		if ip := strings.TrimSpace(name); isIPv4(ip) {
			return simsh.Answer{Name: name, Addrs: []simsh.Addr{{IP: ip, Name: s.ptr(ctx, ip)}}}, nil
		}
		for _, q := range Candidates(name, search) {
			ips, err := s.query(ctx, q, dns.TypeA)
			if err != nil && !errors.Is(err, errNXDomain) {
				return simsh.Answer{}, err
			}
			if len(ips) > 0 {
				ans := simsh.Answer{Name: name}
				for _, ip := range ips {
					ans.Addrs = append(ans.Addrs, simsh.Addr{IP: ip, Name: s.ptr(ctx, ip)})
				}
				return ans, nil
			}
		}
		return simsh.Answer{}, errNXDomain
	}
}

// ptr is the name the cluster DNS gives ip ("" when none).
func (s *Server) ptr(ctx context.Context, ip string) string {
	rev, err := dns.ReverseAddr(ip)
	if err != nil {
		return ""
	}
	names, _ := s.query(ctx, rev, dns.TypePTR)
	if len(names) == 0 {
		return ""
	}
	return strings.TrimSuffix(names[0], ".")
}

// query asks the cluster DNS one question and returns the A addresses or PTR names.
func (s *Server) query(ctx context.Context, name string, qtype uint16) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, s.cfg.DNSAddr)
	if err != nil {
		return nil, err
	}
	if r.Rcode == dns.RcodeNameError {
		return nil, errNXDomain
	}
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.PTR:
			out = append(out, v.Ptr)
		}
	}
	return out, nil
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
