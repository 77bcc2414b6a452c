package sandbox

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestRoutePlan(t *testing.T) {
	cluster, services := netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("10.96.0.0/12")
	def := Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0"}
	tests := map[string]struct {
		routes  []Route
		addrs   []netip.Addr
		want    []netip.Prefix
		refused map[netip.Prefix]string
	}{
		"empty namespace: both routed": {want: []netip.Prefix{cluster, services}},
		"a default route is no obstacle (ours are more specific)": {
			routes: []Route{def, {Dst: netip.MustParsePrefix("192.0.2.0/24"), Dev: "eth0"}},
			addrs:  []netip.Addr{netip.MustParseAddr("192.0.2.2")},
			want:   []netip.Prefix{cluster, services},
		},
		"a wider route covering the cluster CIDR: refused, it leads somewhere real": {
			routes:  []Route{def, {Dst: netip.MustParsePrefix("10.0.0.0/8"), Dev: "vpn0"}},
			refused: map[netip.Prefix]string{cluster: "the route 10.0.0.0/8 dev vpn0 overlaps it", services: "the route 10.0.0.0/8 dev vpn0 overlaps it"},
		},
		"a narrower route inside the service CIDR: refused": {
			routes:  []Route{{Dst: netip.MustParsePrefix("10.100.0.0/24"), Dev: "docker0"}},
			want:    []netip.Prefix{cluster},
			refused: map[netip.Prefix]string{services: "the route 10.100.0.0/24 dev docker0 overlaps it"},
		},
		"our own link's routes (a restart) are no obstacle": {
			routes: []Route{{Dst: cluster, Dev: "pwabc"}, {Dst: services, Dev: "pwabc"}},
			want:   []netip.Prefix{cluster, services},
		},
		"an address of the namespace in the cluster CIDR: refused": {
			addrs:   []netip.Addr{netip.MustParseAddr("10.244.9.9")},
			want:    []netip.Prefix{services},
			refused: map[netip.Prefix]string{cluster: "the address 10.244.9.9 lies in it"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, refused := RoutePlan([]netip.Prefix{cluster, services}, tc.routes, tc.addrs, "pwabc")
			if !slices.Equal(ok, tc.want) {
				t.Errorf("routed %v, want %v", ok, tc.want)
			}
			if len(refused) != len(tc.refused) {
				t.Errorf("refused %v, want %v", refused, tc.refused)
			}
			for p, why := range tc.refused {
				if refused[p] != why {
					t.Errorf("refused[%s] = %q, want %q", p, refused[p], why)
				}
			}
		})
	}
	if ok, refused := RoutePlan([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("169.254.0.0/16")}, nil, nil, ""); len(ok) != 0 || len(refused) != 2 {
		t.Errorf("the whole space and the link's range: routed %v, refused %v", ok, refused)
	}
}

func TestCapsFromStatus(t *testing.T) {
	tests := map[string]struct {
		status  string
		missing string
	}{
		"root":                    {status: "Name:\tx\nCapEff:\t000001ffffffffff\n"},
		"net admin and sys admin": {status: "CapEff:\t0000000000201000\n"},
		"no capabilities":         {status: "CapEff:\t0000000000000000\n", missing: "missing CAP_NET_ADMIN and CAP_SYS_ADMIN"},
		"net admin only":          {status: "CapEff:\t0000000000001000\n", missing: "missing CAP_SYS_ADMIN"},
		"no CapEff line":          {status: "Name:\tx\n", missing: "no CapEff"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := capsFromStatus(tc.status)
			if tc.missing == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.missing) {
				t.Errorf("err = %v, want %q", err, tc.missing)
			}
		})
	}
}

func TestNamesFitInterfaceNames(t *testing.T) {
	id := InstanceID("postgres://x@127.0.0.1:5432/db")
	if id != InstanceID("postgres://x@127.0.0.1:5432/db") || id == InstanceID("postgres://x@127.0.0.1:5433/db") {
		t.Errorf("instance ids are not stable and distinct")
	}
	if l := len(HostLinkName(id)); l > 15 {
		t.Errorf("host link name has %d characters, Linux allows 15", l)
	}
	if l := len(PodVethName("8e1c0e9c-7a0f-4f0e-9d43-4d3c8f7a0b11")); l > 15 {
		t.Errorf("veth name has %d characters", l)
	}
}
