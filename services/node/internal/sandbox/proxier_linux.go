//go:build linux

package sandbox

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table of the service rules, in the pod network.
const TableName = "podwarden"

// ipsDstNAT is conntrack's IPS_DST_NAT status bit.
const ipsDstNAT = 1 << 5

// proxier keeps the pod network's service rules: kube-proxy's, in nftables.
type proxier struct {
	fd  int // the pod network's namespace
	key string
}

func (p *proxier) close() {}

// SetServices makes the pod network's service rules those of ports, in one
// nftables transaction (the whole table is replaced): traffic to a ClusterIP's
// port (or to the pod network's own addresses at a NodePort) is sent to one of
// its endpoints at random; traffic to the service CIDR that no rule rewrote
// (no endpoint, unknown address or port) is rejected, never forwarded. The
// cluster DNS's address is answered inside the pod network.
func (n *Network) SetServices(ports []ServicePort) error {
	SortServicePorts(ports)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	key := rulesKey(ports)
	if n.podnetNS <= 0 {
		return ErrClosed
	}
	if n.rules != nil && n.rules.key == key {
		return nil
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(n.podnetNS)))
	if err != nil {
		return err
	}
	if n.rules != nil {
		c.DelTable(&nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4})
	}
	buildRules(c, ports, n.cfg.ServiceCIDR, n.cfg.DNSIP, []netip.Addr{LinkPeer, Gateway})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("service rules: %w", err)
	}
	n.rules = &proxier{key: key}
	return nil
}

func buildRules(c *nftables.Conn, ports []ServicePort, serviceCIDR netip.Prefix, dnsIP netip.Addr, nodeAddrs []netip.Addr) {
	t := c.AddTable(&nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4})
	pre := c.AddChain(&nftables.Chain{Name: "services", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	for i, sp := range ports {
		if len(sp.Endpoints) == 0 || (sp.Protocol != "TCP" && sp.Protocol != "UDP") {
			continue // rejected below
		}
		chain := c.AddChain(&nftables.Chain{Name: fmt.Sprintf("svc-%d", i), Table: t})
		for j, ep := range sp.Endpoints {
			var exprs []expr.Any
			if left := len(sp.Endpoints) - j; left > 1 {
				// One of the endpoints left, with equal chances (kube-proxy's iptables
				// statistic rules).
				exprs = append(exprs,
					&expr.Numgen{Register: 1, Modulus: uint32(left), Type: unix.NFT_NG_RANDOM},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)})
			}
			exprs = append(exprs,
				&expr.Immediate{Register: 1, Data: ep.Addr().AsSlice()},
				&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(ep.Port())},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
			c.AddRule(&nftables.Rule{Table: t, Chain: chain, Exprs: exprs, UserData: []byte(sp.Name)})
		}
		jump := &expr.Verdict{Kind: expr.VerdictJump, Chain: chain.Name}
		c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: append(append(daddrIs(sp.ClusterIP), portIs(sp.Protocol, sp.Port)...), jump)})
		if sp.NodePort != 0 {
			for _, a := range nodeAddrs {
				c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: append(append(daddrIs(a), portIs(sp.Protocol, sp.NodePort)...), jump)})
			}
		}
	}
	if !serviceCIDR.IsValid() {
		return
	}
	// What is addressed to the service CIDR and was not rewritten goes no further.
	for _, hook := range []*nftables.ChainHook{nftables.ChainHookInput, nftables.ChainHookForward} {
		name := "reject-input"
		if hook == nftables.ChainHookForward {
			name = "reject-forward"
		}
		ch := c.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: nftables.ChainPriorityFilter})
		if dnsIP.IsValid() {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(daddrIs(dnsIP), &expr.Verdict{Kind: expr.VerdictAccept})})
		}
		notRewritten := append(daddrIn(serviceCIDR),
			&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(append(append([]expr.Any{}, notRewritten...),
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}}),
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST})})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(append([]expr.Any{}, notRewritten...),
			&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3})}) // port unreachable
	}
}

// daddrIs matches packets to a.
func daddrIs(a netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
	}
}

// daddrIn matches packets to an address of p.
func daddrIn(p netip.Prefix) []expr.Any {
	m := make([]byte, 4)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// portIs matches protocol's packets to port.
func portIs(protocol string, port uint16) []expr.Any {
	proto := byte(unix.IPPROTO_TCP)
	if protocol == "UDP" {
		proto = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}
