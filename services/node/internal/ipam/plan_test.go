package ipam

import (
	"errors"
	"strings"
	"testing"
)

func TestNewPlan(t *testing.T) {
	cases := map[string]struct {
		cluster  string
		mask     int
		nodes    string
		wantErr  string
		maxCIDRs int
		capacity int
		first    string // PodCIDR(0)
		last     string // PodCIDR(capacity-1)
		lastIP   string // NodeIP(capacity-1)
	}{
		"defaults": {maxCIDRs: 256, capacity: 256, first: "10.244.0.0/24", last: "10.244.255.0/24", lastIP: "172.18.1.1"},
		"explicit defaults": {cluster: "10.244.0.0/16", mask: 24, nodes: "172.18.0.0/16",
			maxCIDRs: 256, capacity: 256, first: "10.244.0.0/24", last: "10.244.255.0/24", lastIP: "172.18.1.1"},
		// 65,536 podCIDRs; the 4,096 in the Service range 10.96.0.0/12 are
		// occupied at start, as kube-controller-manager's allocator does.
		"10.0.0.0/8 with /24": {cluster: "10.0.0.0/8", mask: 24,
			maxCIDRs: 65536, capacity: 61440, first: "10.0.0.0/24", last: "10.255.255.0/24", lastIP: "172.18.240.1"},
		"/16 with /26": {cluster: "10.244.0.0/16", mask: 26,
			maxCIDRs: 1024, capacity: 1024, first: "10.244.0.0/26", last: "10.244.255.192/26", lastIP: "172.18.4.1"},
		"mask equal to the prefix: one node": {cluster: "192.168.0.0/24", mask: 24, maxCIDRs: 1, capacity: 1,
			first: "192.168.0.0/24", last: "192.168.0.0/24", lastIP: "172.18.0.2"},
		"unmasked cluster CIDR is masked": {cluster: "10.244.7.1/16", maxCIDRs: 256, capacity: 256,
			first: "10.244.0.0/24", last: "10.244.255.0/24", lastIP: "172.18.1.1"},
		"node network limits the plan": {cluster: "10.0.0.0/8", mask: 24, nodes: "192.168.0.0/24",
			maxCIDRs: 65536, capacity: 253, first: "10.0.0.0/24", last: "10.0.252.0/24", lastIP: "192.168.0.254"},
		"cluster CIDR inside the Service range": {cluster: "10.96.0.0/16", maxCIDRs: 256, capacity: 0},

		"mask smaller than the prefix": {cluster: "10.244.0.0/16", mask: 15,
			wantErr: "invalid PODWARDEN_CLUSTER_CIDR 10.244.0.0/16: mask size of cluster CIDR must be less than or equal to PODWARDEN_NODE_CIDR_MASK_SIZE (15)"},
		"mask too big":     {mask: 31, wantErr: "invalid PODWARDEN_NODE_CIDR_MASK_SIZE 31: must be at most 30"},
		"negative mask":    {mask: -1, wantErr: "mask size of cluster CIDR must be less than or equal to PODWARDEN_NODE_CIDR_MASK_SIZE (-1)"},
		"not a CIDR":       {cluster: "10.244.0.0", wantErr: `invalid PODWARDEN_CLUSTER_CIDR "10.244.0.0"`},
		"IPv6":             {cluster: "fd00::/48", mask: 64, wantErr: "the cluster CIDR must be IPv4"},
		"node network /31": {nodes: "172.18.0.0/31", wantErr: "invalid PODWARDEN_NODE_NETWORK 172.18.0.0/31: want at least 4 addresses"},
		"node network overlaps the cluster": {cluster: "172.16.0.0/12",
			wantErr: "invalid PODWARDEN_NODE_NETWORK 172.18.0.0/16: overlaps PODWARDEN_CLUSTER_CIDR 172.16.0.0/12"},
		"node network overlaps the Services": {nodes: "10.96.0.0/24", wantErr: "overlaps the Service range 10.96.0.0/12"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := NewPlan(tc.cluster, tc.mask, tc.nodes)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewPlan = %v, want error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.MaxCIDRs() != tc.maxCIDRs || p.Capacity() != tc.capacity {
				t.Errorf("MaxCIDRs, Capacity = %d, %d; want %d, %d", p.MaxCIDRs(), p.Capacity(), tc.maxCIDRs, tc.capacity)
			}
			if tc.capacity == 0 {
				return
			}
			if got := p.PodCIDR(0); got != tc.first {
				t.Errorf("PodCIDR(0) = %s, want %s", got, tc.first)
			}
			if got := p.PodCIDR(tc.capacity - 1); got != tc.last {
				t.Errorf("PodCIDR(last) = %s, want %s", got, tc.last)
			}
			if got := p.NodeIP(tc.capacity - 1); got != tc.lastIP {
				t.Errorf("NodeIP(last) = %s, want %s", got, tc.lastIP)
			}
			if p.PodCIDR(p.MaxCIDRs()) != "" || p.NodeIP(1<<16) != "" || p.PodCIDR(-1) != "" || p.NodeIP(-1) != "" {
				t.Errorf("past the end: %q %q", p.PodCIDR(p.MaxCIDRs()), p.NodeIP(1<<16))
			}
		})
	}
}

func TestPlanAddresses(t *testing.T) {
	def := DefaultPlan()
	big, err := NewPlan("10.0.0.0/8", 24, "")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		plan         Plan
		index        int
		cidr, nodeIP string
	}{
		"default first":                         {plan: def, index: 0, cidr: "10.244.0.0/24", nodeIP: "172.18.0.2"},
		"default node-2":                        {plan: def, index: 2, cidr: "10.244.2.0/24", nodeIP: "172.18.0.4"},
		"default 254th skips the broadcast":     {plan: def, index: 253, cidr: "10.244.253.0/24", nodeIP: "172.18.0.255"},
		"default 255th":                         {plan: def, index: 254, cidr: "10.244.254.0/24", nodeIP: "172.18.1.0"},
		"big 300th":                             {plan: big, index: 299, cidr: "10.1.43.0/24", nodeIP: "172.18.1.45"},
		"big before the Service range":          {plan: big, index: 96*256 - 1, cidr: "10.95.255.0/24", nodeIP: "172.18.96.1"},
		"big after the Service range (skipped)": {plan: big, index: 96 * 256, cidr: "10.112.0.0/24", nodeIP: "172.18.96.2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.plan.PodCIDR(tc.index); got != tc.cidr {
				t.Errorf("PodCIDR(%d) = %s, want %s", tc.index, got, tc.cidr)
			}
			if got := tc.plan.NodeIP(tc.index); got != tc.nodeIP {
				t.Errorf("NodeIP(%d) = %s, want %s", tc.index, got, tc.nodeIP)
			}
			if i, ok := tc.plan.IndexOf(tc.cidr); !ok || i != tc.index {
				t.Errorf("IndexOf(%s) = %d, %v", tc.cidr, i, ok)
			}
		})
	}
	for _, cidr := range []string{"10.245.0.0/24", "10.244.1.0/25", "10.244.1.7/24", "bogus", "", "fd00::/64"} {
		if i, ok := def.IndexOf(cidr); ok {
			t.Errorf("IndexOf(%q) = %d, want not in the plan", cidr, i)
		}
	}
	if i, ok := big.IndexOf("10.100.0.0/24"); ok {
		t.Errorf("IndexOf of a podCIDR in the Service range = %d", i)
	}
}

// TestPlanDistinct walks the first 30,000 nodes of a 10.0.0.0/8 plan (past the
// Service range): every podCIDR and InternalIP is distinct, no podCIDR is in
// the Service range, and each maps back to its index.
func TestPlanDistinct(t *testing.T) {
	p, err := NewPlan("10.0.0.0/8", 24, "")
	if err != nil {
		t.Fatal(err)
	}
	cidrs, ips := map[string]bool{}, map[string]bool{}
	for i := range 30000 {
		c, ip := p.PodCIDR(i), p.NodeIP(i)
		if cidrs[c] || ips[ip] {
			t.Fatalf("index %d: %s or %s handed out twice", i, c, ip)
		}
		if InServiceRange(strings.TrimSuffix(c, "0/24") + "1") {
			t.Fatalf("index %d: %s is in the Service range", i, c)
		}
		if j, ok := p.IndexOf(c); !ok || j != i {
			t.Fatalf("IndexOf(%s) = %d, %v; want %d", c, j, ok, i)
		}
		cidrs[c], ips[ip] = true, true
	}
}

func TestPlanHolds(t *testing.T) {
	big, _ := NewPlan("10.0.0.0/8", 24, "")
	small, _ := NewPlan("10.0.0.0/8", 24, "192.168.0.0/24")
	cases := map[string]struct {
		plan    Plan
		n       int
		wantErr string
	}{
		"default holds 256": {plan: DefaultPlan(), n: 256},
		"default 300": {plan: DefaultPlan(), n: 300,
			wantErr: "cluster CIDR 10.244.0.0/16 with node mask /24 holds 256 nodes; 300 asked: set PODWARDEN_CLUSTER_CIDR (e.g. 10.0.0.0/8) or PODWARDEN_NODE_CIDR_MASK_SIZE"},
		"10/8 holds 5000":  {plan: big, n: 5000},
		"10/8 holds 61440": {plan: big, n: 61440},
		"10/8 past the Service range": {plan: big, n: 65536,
			wantErr: "cluster CIDR 10.0.0.0/8 with node mask /24 holds 61440 nodes (65536 podCIDRs less the 4096 that overlap the Service range 10.96.0.0/12); 65536 asked"},
		"node network full": {plan: small, n: 300,
			wantErr: "node network 192.168.0.0/24 holds 253 nodes; 300 asked: set PODWARDEN_NODE_NETWORK"},
		"no fleet": {plan: DefaultPlan(), n: -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.plan.Holds(tc.n)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Holds(%d) = %v, want %q", tc.n, err, tc.wantErr)
			}
		})
	}
}

func TestPlanFreePodCIDR(t *testing.T) {
	def := DefaultPlan()
	tiny := mustPlan(t, "10.244.0.0/23", 24)
	big := mustPlan(t, "10.0.0.0/8", 24)
	var full, beforeServices []string
	for i := range 256 {
		full = append(full, def.PodCIDR(i))
	}
	for i := range 96 * 256 {
		beforeServices = append(beforeServices, big.PodCIDR(i))
	}
	cases := map[string]struct {
		plan     Plan
		podCIDRs []string
		want     int
		wantErr  error
	}{
		"empty fleet":                  {plan: def, want: 0},
		"next":                         {plan: def, podCIDRs: []string{"10.244.0.0/24", "10.244.1.0/24"}, want: 2},
		"fills a hole":                 {plan: def, podCIDRs: []string{"10.244.2.0/24", "10.244.0.0/24"}, want: 1},
		"foreign podCIDRs are ignored": {plan: def, podCIDRs: []string{"10.1.0.0/24", "bogus", ""}, want: 0},
		"skips the Service range":      {plan: big, podCIDRs: beforeServices, want: 96 * 256},
		// A node keeps the podCIDR of an older plan: the new plan's podCIDRs
		// that overlap it are taken.
		"older /24 under a /26 plan":             {plan: mustPlan(t, "10.244.0.0/16", 26), podCIDRs: []string{"10.244.0.0/24"}, want: 4},
		"older /26 under a /24 plan":             {plan: def, podCIDRs: []string{"10.244.0.64/26"}, want: 1},
		"older plan held the whole cluster CIDR": {plan: tiny, podCIDRs: []string{"10.0.0.0/8"}, wantErr: ErrPlanFull},
		"exhausted":                              {plan: def, podCIDRs: full, wantErr: ErrPlanFull},
		"exhausted small plan, in any order":     {plan: tiny, podCIDRs: []string{"10.244.1.0/24", "10.244.0.0/24"}, wantErr: ErrPlanFull},
		"cluster CIDR inside the Service range":  {plan: mustPlan(t, "10.96.0.0/16", 24), wantErr: ErrPlanFull},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tc.plan.FreePodCIDR(tc.podCIDRs)
			if !errors.Is(err, tc.wantErr) || err == nil && got != tc.want {
				t.Errorf("FreePodCIDR = %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	_, err := def.FreePodCIDR(full)
	if want := "cluster CIDR 10.244.0.0/16 with node mask /24 holds 256 nodes, all taken: set PODWARDEN_CLUSTER_CIDR (e.g. 10.0.0.0/8) or PODWARDEN_NODE_CIDR_MASK_SIZE"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("full plan: %v", err)
	}
}

func TestPlanFreeNodeIP(t *testing.T) {
	small, err := NewPlan("", 0, "192.168.0.0/30")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		plan    Plan
		nodeIPs []string
		want    int
		wantErr error
	}{
		"empty fleet":          {plan: DefaultPlan(), want: 0},
		"fills a hole":         {plan: DefaultPlan(), nodeIPs: []string{"172.18.0.2", "172.18.0.4"}, want: 1},
		"foreign addresses":    {plan: DefaultPlan(), nodeIPs: []string{"172.18.0.1", "172.19.0.2", "bogus"}, want: 0},
		"a /30 holds one node": {plan: small, want: 0},
		"exhausted":            {plan: small, nodeIPs: []string{"192.168.0.2"}, wantErr: ErrPlanFull},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tc.plan.FreeNodeIP(tc.nodeIPs)
			if !errors.Is(err, tc.wantErr) || err == nil && got != tc.want {
				t.Errorf("FreeNodeIP = %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := small.FreeNodeIP([]string{"192.168.0.2"}); err == nil || !strings.Contains(err.Error(), "node network 192.168.0.0/30 holds 1 nodes, all taken: set PODWARDEN_NODE_NETWORK") {
		t.Errorf("full node network: %v", err)
	}
}

func mustPlan(t *testing.T, cluster string, mask int) Plan {
	t.Helper()
	p, err := NewPlan(cluster, mask, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
