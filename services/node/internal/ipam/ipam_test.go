package ipam

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestAllocate(t *testing.T) {
	cases := map[string]struct {
		cidr    string
		used    map[string]bool
		last    string
		want    string
		wantErr error
	}{
		"first address skips network and gateway": {cidr: "10.244.1.0/24", want: "10.244.1.2"},
		"skips used":                        {cidr: "10.244.1.0/24", used: map[string]bool{"10.244.1.2": true, "10.244.1.3": true}, want: "10.244.1.4"},
		"round robin after last":            {cidr: "10.244.1.0/24", last: "10.244.1.7", want: "10.244.1.8"},
		"wraps before broadcast":            {cidr: "10.244.1.0/24", last: "10.244.1.254", want: "10.244.1.2"},
		"last outside the range is ignored": {cidr: "10.244.1.0/24", last: "10.244.2.9", want: "10.244.1.2"},
		"unmasked cidr":                     {cidr: "10.244.1.7/24", want: "10.244.1.2"},
		"exhausted":                         {cidr: "10.0.0.0/30", used: map[string]bool{"10.0.0.2": true}, wantErr: ErrExhausted},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Allocate(tc.cidr, tc.used, tc.last)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Errorf("Allocate = (%q, %v), want (%q, %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := Allocate("bogus", nil, ""); err == nil {
		t.Error("Allocate(bogus) succeeded")
	}
}

// TestAllocateNeverDuplicates fills a /24, frees some addresses and refills it:
// no address is ever handed out twice while in use.
func TestAllocateNeverDuplicates(t *testing.T) {
	used := map[string]bool{}
	last := ""
	for range 253 {
		ip, err := Allocate("10.244.3.0/24", used, last)
		if err != nil {
			t.Fatal(err)
		}
		if used[ip] {
			t.Fatalf("%s handed out twice", ip)
		}
		used[ip], last = true, ip
	}
	if _, err := Allocate("10.244.3.0/24", used, last); !errors.Is(err, ErrExhausted) {
		t.Fatalf("want exhausted, got %v", err)
	}
	for i := 10; i < 20; i++ {
		delete(used, fmt.Sprintf("10.244.3.%d", i))
	}
	for range 10 {
		ip, err := Allocate("10.244.3.0/24", used, last)
		if err != nil || used[ip] {
			t.Fatalf("Allocate = %q, %v", ip, err)
		}
		used[ip], last = true, ip
	}
}

func TestServiceRange(t *testing.T) {
	cases := map[string]struct {
		ip   string
		want bool
	}{
		"kubernetes service": {ip: KubernetesServiceIP, want: true},
		"dns service":        {ip: DNSServiceIP, want: true},
		"last usable":        {ip: "10.111.255.254", want: true},
		"network address":    {ip: "10.96.0.0"},
		"broadcast":          {ip: "10.111.255.255"},
		"outside":            {ip: "10.112.0.1"},
		"pod range":          {ip: "10.244.1.2"},
		"not an ip":          {ip: "nope"},
		"ipv6":               {ip: "fd00::1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := InServiceRange(tc.ip); got != tc.want {
				t.Errorf("InServiceRange(%q) = %v", tc.ip, got)
			}
		})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		ip := RandomServiceIP(r)
		a := netip.MustParseAddr(ip)
		if !InServiceRange(ip) || toUint(a)-toUint(serviceRange.Addr()) < staticBand {
			t.Fatalf("random ClusterIP %s is outside the dynamic band", ip)
		}
	}
}

func TestRandomNodePort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	used := map[int32]bool{}
	for p := int32(NodePortMin); p < NodePortMax; p++ {
		used[p] = true
	}
	if got := RandomNodePort(r, used); got != NodePortMax {
		t.Fatalf("the only free port is %d, got %d", NodePortMax, got)
	}
	used[NodePortMax] = true
	if got := RandomNodePort(r, used); got != 0 {
		t.Fatalf("full range gave %d", got)
	}
}
