package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// DefaultDir is where node services keep their pod networks' state (pinned
// namespaces, pods' files): a tmpfs, so nothing outlives a reboot.
const DefaultDir = "/run/podwarden"

// Config configures a pod network.
type Config struct {
	// Dir is the state folder shared by every node service of the machine
	// (DefaultDir); each keeps its own in Dir/ID.
	Dir string
	// ID names this node service's pod network (InstanceID of its database).
	ID string
	// ClusterCIDR and ServiceCIDR are the pods' and the ClusterIPs' ranges.
	ClusterCIDR, ServiceCIDR netip.Prefix
	// DNSIP is the cluster DNS's ClusterIP, answered inside the pod network.
	DNSIP netip.Addr
	// Route routes ClusterCIDR and ServiceCIDR from the node service's network
	// namespace into the pod network (when RoutePlan allows it).
	Route bool
	Log   *slog.Logger
}

func (c *Config) defaults() error {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.ID == "" || strings.ContainsAny(c.ID, "/.") || len(c.ID) > 8 {
		return fmt.Errorf("sandbox: bad instance id %q", c.ID)
	}
	if !c.ClusterCIDR.IsValid() {
		return errors.New("sandbox: no cluster CIDR")
	}
	return nil
}

// ErrUnavailable is why the machine cannot give pods sandboxes.
var ErrUnavailable = errors.New("pod sandboxes need Linux and root (or CAP_NET_ADMIN and CAP_SYS_ADMIN)")

// Capability bits of /proc/self/status's CapEff.
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// Available reports whether this process can make sandboxes: Linux, with
// CAP_NET_ADMIN and CAP_SYS_ADMIN in effect (root has them).
func Available() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("%w: this is %s", ErrUnavailable, runtime.GOOS)
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return capsFromStatus(string(b))
}

// capsFromStatus checks the effective capabilities in a /proc/PID/status text.
func capsFromStatus(status string) error {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return fmt.Errorf("%w: CapEff %q", ErrUnavailable, v)
		}
		var missing []string
		if caps&(1<<capNetAdmin) == 0 {
			missing = append(missing, "CAP_NET_ADMIN")
		}
		if caps&(1<<capSysAdmin) == 0 {
			missing = append(missing, "CAP_SYS_ADMIN")
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: missing %s", ErrUnavailable, strings.Join(missing, " and "))
		}
		return nil
	}
	return fmt.Errorf("%w: no CapEff in /proc/self/status", ErrUnavailable)
}

// Pod is what a sandbox is made from.
type Pod struct {
	UID, Namespace, Name string
	Hostname             string
	IP                   netip.Addr
	// Files are the kubelet's files of the pod (/etc/hosts, /etc/hostname,
	// /etc/resolv.conf), bound over the machine's in the sandbox.
	Files map[string]string
}
