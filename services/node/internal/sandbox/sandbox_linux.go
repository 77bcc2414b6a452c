//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Sandbox is one pod's: its network namespace (pinned in the state folder),
// its veth on the bridge, its files.
type Sandbox struct {
	Pod   Pod
	netns string // where its network namespace is pinned
	files string // folder of its files
	veth  string
	// closers are closed when the sandbox goes (listeners the node service
	// opened in it, which would hold its namespace).
	closers []io.Closer
	cg      *cgroups // the pod's processes' groups (nil: none)
}

// ErrClosed: the network is closed.
var ErrClosed = errors.New("pod network closed")

// Ensure returns the pod's sandbox, making it on first use; then init, when
// set, runs with it (before anyone else gets it); what init opens and hands to
// AddCloser is closed when the sandbox goes.
func (n *Network) Ensure(p Pod, init func(*Sandbox) error) (*Sandbox, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrClosed
	}
	if s := n.pods[p.UID]; s != nil {
		return s, nil
	}
	if !p.IP.Is4() {
		return nil, fmt.Errorf("pod %s/%s has no IPv4 address", p.Namespace, p.Name)
	}
	s := &Sandbox{Pod: p, netns: filepath.Join(n.dir, "net", p.UID), files: filepath.Join(n.dir, "pods", p.UID), veth: PodVethName(p.UID)}
	if err := n.makeSandbox(s); err != nil {
		n.removeSandbox(s)
		return nil, fmt.Errorf("sandbox of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	if init != nil {
		if err := init(s); err != nil {
			n.removeSandbox(s)
			return nil, fmt.Errorf("sandbox of pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	n.pods[p.UID] = s
	return s, nil
}

func (n *Network) makeSandbox(s *Sandbox) error {
	if n.cg != nil && n.cg.make(s.Pod.UID) == nil {
		s.cg = n.cg
	}
	if err := os.MkdirAll(s.files, 0o755); err != nil {
		return err
	}
	for name, content := range s.Pod.Files {
		if err := os.WriteFile(filepath.Join(s.files, filepath.Base(name)), []byte(content), 0o644); err != nil {
			return err
		}
	}
	if err := createNetns(s.netns); err != nil {
		return err
	}
	ns, err := netns.GetFromPath(s.netns)
	if err != nil {
		return err
	}
	defer ns.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: s.veth, MasterIndex: n.bridge.Attrs().Index}, PeerName: PodIfName, PeerNamespace: netlink.NsFd(int(ns))}
	if err := n.h.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth: %w", err)
	}
	host, err := n.h.LinkByName(s.veth)
	if err != nil {
		return err
	}
	if err := n.h.LinkSetUp(host); err != nil {
		return err
	}
	if err := n.h.RouteReplace(&netlink.Route{LinkIndex: n.bridge.Attrs().Index, Dst: ipNet(netip.PrefixFrom(s.Pod.IP, 32)), Scope: netlink.SCOPE_LINK,
		Src: net.IP(Gateway.AsSlice())}); err != nil {
		return fmt.Errorf("route to the pod: %w", err)
	}
	ph, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer ph.Close()
	lo, err := ph.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := ph.LinkSetUp(lo); err != nil {
		return err
	}
	eth, err := ph.LinkByName(PodIfName)
	if err != nil {
		return err
	}
	if err := ph.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(s.Pod.IP, 32))}); err != nil {
		return err
	}
	if err := ph.LinkSetUp(eth); err != nil {
		return err
	}
	gw := net.IP(Gateway.AsSlice())
	if err := ph.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Dst: ipNet(netip.PrefixFrom(Gateway, 32)), Scope: netlink.SCOPE_LINK}); err != nil {
		return fmt.Errorf("route to the gateway: %w", err)
	}
	if err := ph.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw}); err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	return nil
}

// removeSandbox kills what runs in the sandbox and removes it (the pod's veth
// and route, its namespace, its files).
func (n *Network) removeSandbox(s *Sandbox) {
	for _, c := range s.closers {
		_ = c.Close()
	}
	if s.cg != nil {
		s.cg.remove(s.Pod.UID) // kills what is left in it
	}
	killInNetns(s.netns)
	// The pod's netns goes once unpinned (the kernel destroys it, its eth0 and
	// so the veth's other end, in the background: deleting the veth here would
	// wait for the network's grace periods, tens of milliseconds per pod).
	if n.h != nil {
		if n.bridge != nil && s.Pod.IP.IsValid() {
			_ = n.h.RouteDel(&netlink.Route{LinkIndex: n.bridge.Attrs().Index, Dst: ipNet(netip.PrefixFrom(s.Pod.IP, 32)), Scope: netlink.SCOPE_LINK})
		}
	}
	_ = deleteNetns(s.netns)
	_ = os.RemoveAll(s.files)
}

// Remove removes the sandbox of pod uid, if it has one.
func (n *Network) Remove(uid string) {
	n.mu.Lock()
	s := n.pods[uid]
	delete(n.pods, uid)
	n.mu.Unlock()
	if s != nil {
		n.removeSandbox(s)
	}
}

// Get is the pod's sandbox (nil when it has none).
func (n *Network) Get(uid string) *Sandbox {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pods[uid]
}

// UIDs are the pods that have a sandbox, sorted.
func (n *Network) UIDs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.pods))
	for uid := range n.pods {
		out = append(out, uid)
	}
	sort.Strings(out)
	return out
}

// Collect removes the sandboxes of pods that are gone or finished (keep says
// which to keep), every interval until ctx ends.
func (n *Network) Collect(ctx context.Context, interval time.Duration, keep func(s Pod) bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n.mu.Lock()
		var gone []string
		for uid, s := range n.pods {
			if !keep(s.Pod) {
				gone = append(gone, uid)
			}
		}
		n.mu.Unlock()
		for _, uid := range gone {
			n.Remove(uid)
		}
	}
}

// etcFiles are the files a sandbox binds over the machine's, in this order.
var etcFiles = []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}

// Start starts cmd in the sandbox: in its network namespace, in a UTS namespace
// of its own with the pod's hostname, and in a mount namespace of its own where
// the pod's files are bound over the machine's /etc/hosts, /etc/hostname and
// /etc/resolv.conf. The rest of the file system is the machine's.
func (s *Sandbox) Start(cmd *exec.Cmd) error {
	return onThread(func() error {
		fd, err := unix.Open(s.netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the pod's netns: %w", err)
		}
		defer unix.Close(fd)
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWUTS); err != nil {
			return fmt.Errorf("unshare mount and uts: %w", err)
		}
		// Nothing mounted here may reach the machine's mount namespace.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make / private: %w", err)
		}
		for _, target := range etcFiles {
			src := filepath.Join(s.files, filepath.Base(target))
			if _, err := os.Stat(src); err != nil {
				continue
			}
			if _, err := os.Stat(target); err != nil {
				continue // the machine has none to bind over (a dangling link)
			}
			if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s: %w", target, err)
			}
		}
		// Drop the state folder (the pinned namespaces) from this mount namespace.
		_ = unix.Unmount(filepath.Dir(filepath.Dir(s.netns)), unix.MNT_DETACH)
		if err := unix.Sethostname([]byte(s.Pod.Hostname)); err != nil {
			return fmt.Errorf("sethostname: %w", err)
		}
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter the pod's netns: %w", err)
		}
		if s.cg != nil {
			done, err := s.cg.enter(s.Pod.UID, cmd)
			if err != nil {
				return fmt.Errorf("enter the pod's cgroup: %w", err)
			}
			defer done()
		}
		return cmd.Start()
	})
}

// Dial connects to TCP addr from inside the sandbox (the kubelet's
// port-forward dials localhost in the pod's network namespace).
func (s *Sandbox) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(s.netns, func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err = d.DialContext(ctx, "tcp4", addr)
		return err
	})
	return c, err
}

// Usage is the CPU time and memory of the processes started in the sandbox
// (ok is false without cgroups).
func (s *Sandbox) Usage() (cpuNanos, memBytes uint64, ok bool) {
	if s.cg == nil {
		return 0, 0, false
	}
	cpu, mem, err := s.cg.usage(s.Pod.UID)
	return cpu, mem, err == nil
}

// AddCloser has c closed when the sandbox goes.
func (s *Sandbox) AddCloser(c io.Closer) { s.closers = append(s.closers, c) }

// Listen listens on TCP addr inside the sandbox.
func (s *Sandbox) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNetns(s.netns, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	return ln, err
}
