package clusterdns

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/miekg/dns"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// startServer serves idx on 127.0.0.1:0 and returns the address.
func startServer(t *testing.T, idx *Index) string {
	t.Helper()
	s := &Server{Addr: "127.0.0.1:0", Index: func() *Index { return idx }}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s.LocalAddr()
}

// query asks over net ("udp" or "tcp"), retrying until the server answers (it
// may still be starting) or the deadline passes.
func query(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: time.Second}
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, _, err := c.Exchange(req, addr)
		if err == nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func aAnswers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return out
}

func TestServerOverUDPAndTCP(t *testing.T) {
	addr := startServer(t, testIndex())
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			if got := aAnswers(query(t, network, addr, "nginx.default.svc.cluster.local.", dns.TypeA)); fmt.Sprint(got) != "[10.244.1.2 10.244.2.3]" {
				t.Errorf("headless A: %v", got)
			}
			if got := aAnswers(query(t, network, addr, "web-0.nginx.default.svc.cluster.local.", dns.TypeA)); fmt.Sprint(got) != "[10.244.1.2]" {
				t.Errorf("hostname A: %v", got)
			}
			if got := aAnswers(query(t, network, addr, "web.default.svc.cluster.local.", dns.TypeA)); fmt.Sprint(got) != "[10.96.5.5]" {
				t.Errorf("clusterIP A: %v", got)
			}
			srv := query(t, network, addr, "_web._tcp.nginx.default.svc.cluster.local.", dns.TypeSRV)
			if len(srv.Answer) != 2 || len(srv.Extra) != 2 {
				t.Errorf("SRV: %v", srv)
			}
			if m := query(t, network, addr, "nope.default.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeNameError || len(m.Ns) != 1 {
				t.Errorf("unknown name: %v", m)
			}
			if m := query(t, network, addr, "example.com.", dns.TypeA); m.Rcode != dns.RcodeRefused {
				t.Errorf("outside the zone: %v", m)
			}
		})
	}
}

// TestServerTruncatesUDP: an answer too big for 512 bytes comes truncated over
// UDP (TC set) and whole over TCP.
func TestServerTruncatesUDP(t *testing.T) {
	var addrs []*nodev1.EndpointAddress
	for i := range 100 {
		addrs = append(addrs, epAddr(fmt.Sprintf("10.244.%d.%d", i/200, i%200+2), ""))
	}
	idx := NewIndex([]*nodev1.Service{svc("default", "big", "ClusterIP", "None", sport("web", "TCP", 80))},
		[]*nodev1.Endpoints{eps("default", "big", &nodev1.EndpointSubset{Addresses: addrs, Ports: []*nodev1.EndpointPort{{Name: "web", Port: 80, Protocol: "TCP"}}})}, 1)
	addr := startServer(t, idx)
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	req := new(dns.Msg)
	req.SetQuestion("big.default.svc.cluster.local.", dns.TypeA)
	query(t, "udp", addr, "big.default.svc.cluster.local.", dns.TypeA) // the server is up
	m, _, err := c.Exchange(req, addr)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Truncated || len(m.Answer) >= 100 {
		t.Errorf("udp: truncated %v with %d answers", m.Truncated, len(m.Answer))
	}
	if m := query(t, "tcp", addr, "big.default.svc.cluster.local.", dns.TypeA); m.Truncated || len(m.Answer) != 100 {
		t.Errorf("tcp: truncated %v with %d answers", m.Truncated, len(m.Answer))
	}
}

func TestServerBeforeTheIndexIsLoaded(t *testing.T) {
	addr := startServer(t, nil)
	if m := query(t, "udp", addr, "web.default.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s", dns.RcodeToString[m.Rcode])
	}
}
