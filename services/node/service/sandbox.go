package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/sandbox"
	"github.com/podwarden/podwarden/services/node/internal/streams"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Sandbox modes (PODWARDEN_SANDBOX).
const (
	// SandboxAuto gives pods sandboxes when the machine allows it (Linux, root
	// or CAP_NET_ADMIN+CAP_SYS_ADMIN), else runs as without (the command's default).
	SandboxAuto = "auto"
	// SandboxOn requires sandboxes: the service refuses to start without.
	SandboxOn = "on"
	// SandboxOff never makes sandboxes.
	SandboxOff = "off"
)

// SandboxFromEnv sets the sandbox settings from PODWARDEN_SANDBOX (auto, on,
// off), PODWARDEN_SANDBOX_DIR and PODWARDEN_SANDBOX_ROUTES (auto, on, off).
func (c *Config) SandboxFromEnv() {
	c.Sandbox = envStr("PODWARDEN_SANDBOX", SandboxAuto)
	c.SandboxDir = envStr("PODWARDEN_SANDBOX_DIR", sandbox.DefaultDir)
	c.SandboxRoutes = envStr("PODWARDEN_SANDBOX_ROUTES", SandboxAuto)
}

func validSandbox(name, mode string) error {
	switch mode {
	case "", SandboxAuto, SandboxOn, SandboxOff:
		return nil
	}
	return fmt.Errorf("%s %q: want %s, %s or %s", name, mode, SandboxAuto, SandboxOn, SandboxOff)
}

// shouldRoute decides whether the cluster and service CIDRs are routed from
// the service's network namespace into the pod network: "auto" routes only
// when that namespace is not the machine's own (PID 1's), so that a service
// run on a machine's host network adds no route there unless told to.
func shouldRoute(mode string, inInitNetns bool) bool {
	switch mode {
	case SandboxOn:
		return true
	case SandboxOff:
		return false
	}
	return !inInitNetns
}

// inInitNetns reports whether this process shares PID 1's network namespace
// (true when it cannot tell).
func inInitNetns() bool {
	self, err1 := os.Readlink("/proc/self/ns/net")
	init, err2 := os.Readlink("/proc/1/ns/net")
	return err1 != nil || err2 != nil || self == init
}

// openSandboxes opens the pod network per cfg.Sandbox: nil when sandboxes are
// off or unavailable (auto), an error when required and unavailable.
func openSandboxes(a *app.App, cfg Config, plan ipam.Plan) (*sandbox.Network, error) {
	if cfg.Sandbox == SandboxOff || cfg.Sandbox == "" {
		return nil, nil
	}
	if err := sandbox.Available(); err != nil {
		if cfg.Sandbox == SandboxOn {
			return nil, err
		}
		a.Log.Info("pods run without sandboxes", "reason", err)
		return nil, nil
	}
	var dnsIP netip.Addr
	if cfg.dnsEnabled() {
		dnsIP = netip.MustParseAddr(ipam.DNSServiceIP)
	}
	route := shouldRoute(cfg.SandboxRoutes, inInitNetns())
	n, err := sandbox.Open(sandbox.Config{
		Dir:         cfg.SandboxDir,
		ID:          sandbox.InstanceID(cfg.App.PostgresDSN),
		ClusterCIDR: netip.MustParsePrefix(plan.ClusterCIDR()),
		ServiceCIDR: netip.MustParsePrefix(ipam.ServiceCIDR),
		DNSIP:       dnsIP,
		Route:       route,
		Log:         a.Log,
	})
	if err != nil {
		if cfg.Sandbox == SandboxOn {
			return nil, err
		}
		a.Log.Warn("pods run without sandboxes", "reason", err)
		return nil, nil
	}
	a.Log.Info("pods get sandboxes", "link", n.HostLink(), "routed", fmt.Sprint(n.Routed()))
	return n, nil
}

// sandboxes adapts the pod network to the streaming server: a pod's sandbox
// is made on first use.
type sandboxes struct {
	n *sandbox.Network
	// exec: the exec runtime (a container with a command is a real process;
	// only those without are simulated).
	exec bool
}

func (s sandboxes) Sandbox(p *corev1.Pod) (streams.Sandbox, error) {
	if p.GetSpec().GetHostNetwork() {
		return nil, nil // the node's network: no sandbox, as without them
	}
	return s.ensure(p)
}

func (s sandboxes) ensure(p *corev1.Pod) (*sandbox.Sandbox, error) {
	ip, err := netip.ParseAddr(p.GetStatus().GetPodIp())
	if err != nil {
		return nil, fmt.Errorf("pod %s has no IP yet", p.GetMetadata().GetName())
	}
	return s.n.Ensure(sandbox.Pod{
		UID: p.GetMetadata().GetUid(), Namespace: p.GetMetadata().GetNamespace(), Name: p.GetMetadata().GetName(),
		Hostname: podHostname(streams.Hostname(p)), IP: ip, Files: streams.Files(p, ipam.DNSServiceIP),
	}, func(sb *sandbox.Sandbox) error {
		// A simulated web server answers inside the sandbox, as the pod network
		// answers for pods without one.
		for _, c := range p.GetSpec().GetContainers() {
			if s.exec && len(c.GetCommand())+len(c.GetArgs()) > 0 {
				continue
			}
			if port, h := streams.WebServer(c.GetImage()); h != nil {
				return serveSimWeb(sb, h, port)
			}
		}
		return nil
	})
}

// sandboxStart starts an exec runtime container's process in its pod's sandbox.
func (s sandboxes) start(p *corev1.Pod, cmd *exec.Cmd) error {
	if p.GetSpec().GetHostNetwork() {
		return cmd.Start()
	}
	sb, err := s.ensure(p)
	if err != nil {
		return err
	}
	return sb.Start(cmd)
}

var _ streams.Sandboxes = sandboxes{}

// collectSandboxes removes the sandboxes of pods that are gone, replaced or
// finished, every second until ctx ends.
func collectSandboxes(ctx context.Context, n *sandbox.Network, pods *watch.Cache[*corev1.Pod]) {
	n.Collect(ctx, time.Second, func(sp sandbox.Pod) bool {
		p, ok := pods.Get(sp.Namespace, sp.Name)
		return ok && p.GetMetadata().GetUid() == sp.UID && !podutil.IsPodTerminal(p)
	})
}

// serveSandboxDNS answers the cluster DNS inside the pod network, at the
// kube-dns ClusterIP, port 53: the nameserver of the pods' resolv.conf.
func serveSandboxDNS(ctx context.Context, a *app.App, n *sandbox.Network, serve func(ctx context.Context, pc net.PacketConn, ln net.Listener) error) error {
	pc, ln, err := n.ListenDNS()
	if err != nil {
		return fmt.Errorf("cluster DNS in the pod network: %w", err)
	}
	go func() {
		if err := serve(ctx, pc, ln); err != nil && !errors.Is(err, context.Canceled) {
			a.Log.Error("cluster DNS in the pod network stopped", "err", err)
		}
	}()
	return nil
}

// podHostname is the kubelet's: at most 63 characters (a pod name may have
// 253), without a trailing '-' or '.' after the cut.
func podHostname(name string) string {
	if len(name) <= 63 {
		return name
	}
	return strings.TrimRight(name[:63], "-.")
}
