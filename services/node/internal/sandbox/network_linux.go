//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Network is one node service's pod network and its pods' sandboxes.
type Network struct {
	cfg      Config
	dir      string // the instance's state folder (a mount point of its own)
	lock     *os.File
	podnet   string // where the pod network's namespace is pinned
	hostLink string
	h        *netlink.Handle // netlink in the pod network
	podnetNS netns.NsHandle
	bridge   netlink.Link
	routed   []netip.Prefix

	mu     sync.Mutex
	pods   map[string]*Sandbox // by pod uid
	closed bool
	rules  *proxier
	cg     *cgroups // nil: no usage
}

// Open cleans what earlier node services left (their state folders whose lock
// nobody holds: killed ones), then creates this one's pod network.
func Open(cfg Config) (*Network, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := Available(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox state folder: %w", err)
	}
	CleanStale(cfg.Dir, cfg.Log)
	n := &Network{cfg: cfg, dir: filepath.Join(cfg.Dir, cfg.ID), hostLink: HostLinkName(cfg.ID), pods: map[string]*Sandbox{}}
	if err := n.setup(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Network) setup() error {
	if err := os.MkdirAll(filepath.Join(n.dir, "net"), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(n.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return fmt.Errorf("pod network %s is in use by another node service: %w", n.dir, err)
	}
	n.lock = lock
	// The state folder is a mount of its own, so that a sandboxed process's mount
	// namespace can drop it (and with it its hold on the pinned namespaces).
	if !isMountPoint(n.dir) {
		if err := unix.Mount(n.dir, n.dir, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", n.dir, err)
		}
	}
	if err := unix.Mount("", n.dir, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", n.dir, err)
	}
	n.cg = openCgroups(n.cfg.ID)
	n.podnet = filepath.Join(n.dir, "net", "podnet")
	if err := createNetns(n.podnet); err != nil {
		return err
	}
	if n.podnetNS, err = netns.GetFromPath(n.podnet); err != nil {
		return err
	}
	if n.h, err = netlink.NewHandleAt(n.podnetNS); err != nil {
		return err
	}
	if err := n.setupPodnet(); err != nil {
		return err
	}
	if !n.cfg.Route {
		return nil // no link at all: the pod network is reached through sockets opened in it
	}
	if err := n.setupLink(); err != nil {
		return err
	}
	return n.route()
}

// setupPodnet: loopback, forwarding, the bridge with the pods' gateway, the
// cluster DNS's address, and unreachable routes for the service CIDR.
func (n *Network) setupPodnet() error {
	lo, err := n.h.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := n.h.LinkSetUp(lo); err != nil {
		return err
	}
	if n.cfg.DNSIP.IsValid() {
		if err := n.h.AddrAdd(lo, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(n.cfg.DNSIP, 32))}); err != nil {
			return fmt.Errorf("cluster DNS address: %w", err)
		}
	}
	if err := writeSysctl(n.podnet, "net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgeName}}
	if err := n.h.LinkAdd(br); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	if n.bridge, err = n.h.LinkByName(BridgeName); err != nil {
		return err
	}
	if err := n.h.AddrAdd(n.bridge, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(Gateway, 32))}); err != nil {
		return err
	}
	if err := n.h.LinkSetUp(n.bridge); err != nil {
		return err
	}
	// Every pod IP is the pod network's own unless its pod has a sandbox (a /32
	// to the bridge, more specific): the node service answers there for
	// simulated containers (ListenPodnet), and nothing addressed to the cluster
	// CIDR is ever routed further.
	if err := n.h.RouteAdd(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: ipNet(n.cfg.ClusterCIDR), Type: unix.RTN_LOCAL,
		Table: unix.RT_TABLE_MAIN, Scope: netlink.SCOPE_HOST}); err != nil {
		return fmt.Errorf("cluster CIDR route: %w", err)
	}
	// ClusterIPs are the pod network's own too: what no rule rewrites to an
	// endpoint is delivered here, where the rules reject it (a TCP reset:
	// connection refused at once; ICMP for the rest). The rules exist before
	// anything can reach the pod network.
	if n.cfg.ServiceCIDR.IsValid() {
		if err := n.h.RouteAdd(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: ipNet(n.cfg.ServiceCIDR), Type: unix.RTN_LOCAL,
			Table: unix.RT_TABLE_MAIN, Scope: netlink.SCOPE_HOST}); err != nil {
			return fmt.Errorf("service CIDR route: %w", err)
		}
	}
	return n.SetServices(nil)
}

// setupLink makes the veth pair between the node service's network namespace
// and the pod network.
func (n *Network) setupLink() error {
	_ = netlink.LinkDel(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: n.hostLink}}) // a killed predecessor's, if its namespace survived
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n.hostLink}, PeerName: UplinkName, PeerNamespace: netlink.NsFd(int(n.podnetNS))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("link %s: %w", n.hostLink, err)
	}
	host, err := netlink.LinkByName(n.hostLink)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(LinkHost, LinkNet.Bits()))}); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return err
	}
	up, err := n.h.LinkByName(UplinkName)
	if err != nil {
		return err
	}
	if err := n.h.AddrAdd(up, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(LinkPeer, LinkNet.Bits()))}); err != nil {
		return err
	}
	return n.h.LinkSetUp(up)
}

// route routes the cluster and service CIDRs from the node service's network
// namespace into the pod network, those RoutePlan allows.
func (n *Network) route() error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	var have []Route
	for _, r := range routes {
		dst := netip.MustParsePrefix("0.0.0.0/0")
		if r.Dst != nil {
			if p, ok := prefixOf(r.Dst); ok {
				dst = p
			}
		}
		dev := ""
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		have = append(have, Route{Dst: dst, Dev: dev})
	}
	var addrs []netip.Addr
	if list, err := netlink.AddrList(nil, netlink.FAMILY_V4); err == nil {
		for _, a := range list {
			if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && ip != LinkHost {
				addrs = append(addrs, ip)
			}
		}
	}
	want := []netip.Prefix{n.cfg.ClusterCIDR, n.cfg.ServiceCIDR}
	ok, refused := RoutePlan(want, have, addrs, n.hostLink)
	for p, why := range refused {
		n.cfg.Log.Warn("pod network: not routing into it from this network namespace", "prefix", p, "reason", why)
	}
	host, err := netlink.LinkByName(n.hostLink)
	if err != nil {
		return err
	}
	for _, p := range ok {
		r := &netlink.Route{LinkIndex: host.Attrs().Index, Dst: ipNet(p), Gw: net.IP(LinkPeer.AsSlice())}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("route %s into the pod network: %w", p, err)
		}
		n.routed = append(n.routed, p)
	}
	return nil
}

// HostLink is the name of the node service's end of the link to the pod network.
func (n *Network) HostLink() string { return n.hostLink }

// Routed are the prefixes routed into the pod network.
func (n *Network) Routed() []netip.Prefix { return n.routed }

// Close removes the pod network: every sandbox, the link (its routes go with
// it), the pod network's namespace (its bridge and rules with it), the state folder.
func (n *Network) Close() {
	n.mu.Lock()
	n.closed = true
	pods := n.pods
	n.pods = map[string]*Sandbox{}
	n.mu.Unlock()
	if n.rules != nil {
		n.rules.close()
	}
	for _, s := range pods {
		n.removeSandbox(s)
	}
	if n.h != nil {
		n.h.Close()
	}
	if n.podnetNS.IsOpen() {
		n.podnetNS.Close()
	}
	if l, err := netlink.LinkByName(n.hostLink); err == nil {
		_ = netlink.LinkDel(l)
	}
	if n.cg != nil {
		n.cg.close()
	}
	cleanDir(n.dir)
	if n.lock != nil {
		n.lock.Close()
	}
	_ = os.Remove(n.cfg.Dir) // when no other node service uses it
}

// CleanStale removes the state folders under root whose node service is gone
// (nobody holds their lock): their processes, pinned namespaces and files.
func CleanStale(root string, log *slog.Logger) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR, 0)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				cleanDir(dir)
			}
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close() // alive
			continue
		}
		if log != nil {
			log.Info("pod network: removing what a stopped node service left", "dir", dir)
		}
		cleanStaleCgroups(e.Name())
		cleanDir(dir)
		f.Close()
	}
}

// cleanDir kills the processes left in the namespaces pinned in an instance's
// folder, unpins them (the pod network last: its link, bridge and rules go with
// it) and removes the folder.
func cleanDir(dir string) {
	netDir := filepath.Join(dir, "net")
	entries, _ := os.ReadDir(netDir)
	for _, e := range entries {
		if e.Name() == "podnet" {
			continue
		}
		p := filepath.Join(netDir, e.Name())
		killInNetns(p)
		_ = deleteNetns(p)
	}
	podnet := filepath.Join(netDir, "podnet")
	killInNetns(podnet)
	_ = deleteNetns(podnet)
	for isMountPoint(dir) {
		if unix.Unmount(dir, unix.MNT_DETACH) != nil {
			break
		}
	}
	_ = os.RemoveAll(dir)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ip, ones), true
}

// ListenDNS opens the cluster DNS's sockets inside the pod network, at
// DNSIP:53, UDP and TCP: the nameserver of every pod's resolv.conf.
func (n *Network) ListenDNS() (net.PacketConn, net.Listener, error) {
	var pc net.PacketConn
	var ln net.Listener
	addr := netip.AddrPortFrom(n.cfg.DNSIP, 53).String()
	err := inNetns(n.podnet, func() error {
		var err error
		if pc, err = net.ListenPacket("udp4", addr); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", addr); err != nil {
			pc.Close()
			return err
		}
		return nil
	})
	return pc, ln, err
}

// ListenPodnet listens on TCP addr inside the pod network.
func (n *Network) ListenPodnet(addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNetns(n.podnet, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	return ln, err
}

// ctxDone reports whether ctx ended.
func ctxDone(ctx context.Context) bool { return ctx.Err() != nil }

var _ = exec.Command
