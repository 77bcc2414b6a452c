// Package ipam hands out pod IPs from a node's podCIDR, the way the host-local
// CNI plugin does: round-robin after the last address handed out, skipping the
// network address, the gateway (.1) and the broadcast address, never an
// address in use. Plan is the fleet's address plan (the nodes' podCIDRs and
// InternalIPs); the Service range and node ports are in service.go.
package ipam

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrExhausted means every address of the range is in use.
var ErrExhausted = errors.New("no IP addresses available in range")

// Allocate returns a free IPv4 address of cidr (not in used), starting after
// last (the previous allocation on this node; "" starts at the beginning).
func Allocate(cidr string, used map[string]bool, last string) (string, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", fmt.Errorf("parse podCIDR %q: %w", cidr, err)
	}
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return "", fmt.Errorf("podCIDR %q: want an IPv4 range of at least 4 addresses", cidr)
	}
	size := uint32(1) << (32 - prefix.Bits())
	base := toUint(prefix.Addr())
	first, lastHost := base+2, base+size-2 // skip network and gateway; broadcast excluded
	start := first
	if l, err := netip.ParseAddr(last); err == nil && l.Is4() && prefix.Contains(l) {
		if v := toUint(l); v >= first && v < lastHost {
			start = v + 1
		}
	}
	n := lastHost - first + 1
	for i := range n {
		v := start + i
		if v > lastHost {
			v -= n
		}
		ip := fromUint(v).String()
		if !used[ip] {
			return ip, nil
		}
	}
	return "", fmt.Errorf("%s: %w", cidr, ErrExhausted)
}

func toUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromUint(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
