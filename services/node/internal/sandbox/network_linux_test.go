//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func testConfig(t *testing.T) Config {
	return Config{
		Dir:         t.TempDir(),
		ID:          InstanceID(t.Name()),
		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
		ServiceCIDR: netip.MustParsePrefix("10.96.0.0/12"),
		DNSIP:       netip.MustParseAddr("10.96.0.10"),
		Route:       true,
	}
}

func testPod(uid, name, ip string) Pod {
	return Pod{UID: uid, Namespace: "default", Name: name, Hostname: name, IP: netip.MustParseAddr(ip), Files: map[string]string{
		"/etc/hosts":       "127.0.0.1\tlocalhost\n" + ip + "\t" + name + "\n",
		"/etc/hostname":    name + "\n",
		"/etc/resolv.conf": "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
	}}
}

func run(t *testing.T, s *Sandbox, argv ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := s.Start(cmd); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %v: %s", argv, err, out.String())
	}
	return out.String()
}

// routeDev is the interface the route to ip leaves by ("" when there is no route).
func routeDev(t *testing.T, ip string) string {
	t.Helper()
	rs, err := netlink.RouteGet(net.ParseIP(ip))
	if err != nil || len(rs) == 0 {
		return ""
	}
	l, err := netlink.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Name
}

func TestSandboxHostnameFilesAndNetwork(t *testing.T) {
	needPrivate(t)
	cfg := testConfig(t)
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	hostsBefore, _ := os.ReadFile("/etc/hosts")
	s, err := n.Ensure(testPod("uid-1", "web-1", "10.244.1.7"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, s, "hostname"); got != "web-1\n" {
		t.Errorf("hostname = %q, want web-1", got)
	}
	if got := run(t, s, "cat", "/etc/resolv.conf"); !strings.Contains(got, "nameserver 10.96.0.10") || !strings.Contains(got, "search default.svc.cluster.local") {
		t.Errorf("resolv.conf = %q", got)
	}
	if got := run(t, s, "cat", "/etc/hosts"); !strings.Contains(got, "10.244.1.7\tweb-1") {
		t.Errorf("hosts = %q", got)
	}
	if after, _ := os.ReadFile("/etc/hosts"); !bytes.Equal(after, hostsBefore) {
		t.Errorf("the machine's /etc/hosts changed")
	}
	if h, _ := os.Hostname(); h == "web-1" {
		t.Errorf("the machine's hostname changed")
	}
	if got := run(t, s, "cat", "/sys/class/net/eth0/operstate"); strings.TrimSpace(got) != "up" {
		t.Errorf("eth0 = %q", got)
	}
	// A server in the sandbox is reachable at the pod IP from the node service's namespace.
	ln, err := s.Listen(":8080")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.WriteString(c, "hello from web-1")
			c.Close()
		}
	}()
	c, err := net.DialTimeout("tcp4", "10.244.1.7:8080", 5*time.Second)
	if err != nil {
		t.Fatalf("dial the pod: %v", err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "hello from web-1" {
		t.Errorf("read %q", b)
	}
	// Two pods reach each other through the bridge.
	s2, err := n.Ensure(testPod("uid-2", "web-2", "10.244.2.9"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := s2.Listen(":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	go func() {
		if c, err := ln2.Accept(); err == nil {
			c.Close()
		}
	}()
	c2, err := s.Dial(context.Background(), "10.244.2.9:80")
	if err != nil {
		t.Fatalf("pod to pod: %v", err)
	}
	c2.Close()
	n.Remove("uid-2")
	if _, err := os.Stat(filepath.Join(cfg.Dir, cfg.ID, "net", "uid-2")); !os.IsNotExist(err) {
		t.Errorf("uid-2's netns is still pinned: %v", err)
	}
}

// TestRoutesNeverLeadToTheDefaultRoute is the safety rule: after setup the routes
// to a pod IP and a ClusterIP lead into the pod network by the project's link,
// after teardown they do not exist (this namespace has no default route).
func TestRoutesNeverLeadToTheDefaultRoute(t *testing.T) {
	needPrivate(t)
	cfg := testConfig(t)
	for _, ip := range []string{"10.244.1.7", "10.96.0.10", "10.100.3.4"} {
		if dev := routeDev(t, ip); dev != "" {
			t.Fatalf("before setup, %s is routed by %s", ip, dev)
		}
	}
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"10.244.1.7", "10.96.0.10", "10.100.3.4"} {
		if dev := routeDev(t, ip); dev != n.HostLink() {
			t.Errorf("after setup, %s is routed by %q, want the project's link %s", ip, dev, n.HostLink())
		}
	}
	if dev := routeDev(t, "8.8.8.8"); dev != "" {
		t.Errorf("8.8.8.8 is routed by %s: the test namespace must have no default route", dev)
	}
	n.Close()
	for _, ip := range []string{"10.244.1.7", "10.96.0.10", "10.100.3.4"} {
		if dev := routeDev(t, ip); dev != "" {
			t.Errorf("after teardown, %s is routed by %s", ip, dev)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, cfg.ID)); !os.IsNotExist(err) {
		t.Errorf("state folder left: %v", err)
	}
}

// TestOverlappingRouteIsNotCaptured: a route that already covers the cluster
// CIDR is left alone, and the prefix is not routed into the pod network.
func TestOverlappingRouteIsNotCaptured(t *testing.T) {
	needPrivate(t)
	dummy := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "corp0"}} // this kernel may lack dummy links
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	defer netlink.LinkDel(dummy)
	_ = netlink.LinkSetUp(dummy)
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: dummy.Attrs().Index, Dst: ipNet(netip.MustParsePrefix("10.0.0.0/8"))}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if len(n.Routed()) != 0 {
		t.Errorf("routed %v over an existing 10.0.0.0/8 route", n.Routed())
	}
	if dev := routeDev(t, "10.244.1.7"); dev != "corp0" {
		t.Errorf("10.244.1.7 is routed by %q, want corp0 as before", dev)
	}
}

// TestStaleNetworkIsCleaned: a node service killed with its pod network in
// place (its lock released, nothing torn down) leaves nothing after the next start.
func TestStaleNetworkIsCleaned(t *testing.T) {
	needPrivate(t)
	cfg := testConfig(t)
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := n.Ensure(testPod("uid-1", "web-1", "10.244.1.7"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "300")
	if err := s.Start(sleeper); err != nil {
		t.Fatal(err)
	}
	go func() { _ = sleeper.Wait() }()
	n.lock.Close() // what kill -9 does to the lock; the rest stays
	n.h.Close()
	n.podnetNS.Close()
	oldPodnet := nsInode(n.podnet)
	n2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if nsInode(n2.podnet) == oldPodnet {
		t.Errorf("the pod network was not made anew")
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, cfg.ID, "net", "uid-1")); !os.IsNotExist(err) {
		t.Errorf("the killed service's pod sandbox is still pinned: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sleeper.ProcessState == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if sleeper.ProcessState == nil {
		t.Errorf("the process left in the sandbox still runs")
	}
	links, _ := netlink.LinkList()
	count := 0
	for _, l := range links {
		if l.Attrs().Name == HostLinkName(cfg.ID) {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d links named %s, want 1", count, HostLinkName(cfg.ID))
	}
}

// serveOnce answers every connection to ln with what.
func serve(ln net.Listener, what string) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, what)
			c.Close()
		}
	}()
}

func readFrom(dial func() (net.Conn, error)) (string, error) {
	c, err := dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestServiceRules: a ClusterIP reaches its endpoints from the node service's
// namespace and from pods, a NodePort from the pod network's addresses; a
// ClusterIP without endpoints, or an unknown port, is refused at once.
func TestServiceRules(t *testing.T) {
	needPrivate(t)
	n, err := Open(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	client, err := n.Ensure(testPod("uid-c", "client", "10.244.1.2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var backends []net.Listener
	for i, ip := range []string{"10.244.1.3", "10.244.2.3"} {
		s, err := n.Ensure(testPod("uid-b"+ip, "backend", ip), nil)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := s.Listen(":8080")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		serve(ln, []string{"one", "two"}[i])
		backends = append(backends, ln)
	}
	err = n.SetServices([]ServicePort{
		{Name: "default/web:http", ClusterIP: netip.MustParseAddr("10.100.0.5"), Protocol: "TCP", Port: 80, NodePort: 30080,
			Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.244.1.3:8080"), netip.MustParseAddrPort("10.244.2.3:8080")}},
		{Name: "default/empty:http", ClusterIP: netip.MustParseAddr("10.100.0.6"), Protocol: "TCP", Port: 80},
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		got, err := readFrom(func() (net.Conn, error) { return net.DialTimeout("tcp4", "10.100.0.5:80", 5*time.Second) })
		if err != nil {
			t.Fatalf("ClusterIP from the node service's namespace: %v", err)
		}
		seen[got] = true
	}
	if !seen["one"] || !seen["two"] {
		t.Errorf("the ClusterIP reached %v, want both endpoints", seen)
	}
	if got, err := readFrom(func() (net.Conn, error) { return client.Dial(context.Background(), "10.100.0.5:80") }); err != nil || (got != "one" && got != "two") {
		t.Errorf("ClusterIP from a pod: %q, %v", got, err)
	}
	if got, err := readFrom(func() (net.Conn, error) { return net.DialTimeout("tcp4", LinkPeer.String()+":30080", 5*time.Second) }); err != nil || (got != "one" && got != "two") {
		t.Errorf("NodePort: %q, %v", got, err)
	}
	for _, addr := range []string{"10.100.0.6:80", "10.100.0.5:81", "10.111.1.1:80"} {
		start := time.Now()
		_, err := client.Dial(context.Background(), addr)
		if err == nil || !strings.Contains(err.Error(), "connection refused") || time.Since(start) > 2*time.Second {
			t.Errorf("%s from a pod: %v after %v, want connection refused at once", addr, err, time.Since(start))
		}
		if _, err := net.DialTimeout("tcp4", addr, 5*time.Second); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%s from the node service's namespace: %v, want connection refused", addr, err)
		}
	}
	// The rules follow: the empty Service gets an endpoint.
	if err := n.SetServices([]ServicePort{{Name: "default/empty:http", ClusterIP: netip.MustParseAddr("10.100.0.6"), Protocol: "TCP", Port: 80,
		Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.244.2.3:8080")}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := readFrom(func() (net.Conn, error) { return client.Dial(context.Background(), "10.100.0.6:80") }); err != nil || got != "two" {
		t.Errorf("after the update: %q, %v", got, err)
	}
	_ = backends
}

// TestPodIPsWithoutSandboxAreThePodNetworks: a pod IP whose pod has no sandbox
// is answered by the pod network itself (where the node service serves
// simulated containers), never routed on.
func TestPodIPsWithoutSandboxAreThePodNetworks(t *testing.T) {
	needPrivate(t)
	n, err := Open(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ln, err := n.ListenPodnet(":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, c.LocalAddr().String())
			c.Close()
		}
	}()
	if got, err := readFrom(func() (net.Conn, error) { return net.DialTimeout("tcp4", "10.244.3.4:80", 5*time.Second) }); err != nil || got != "10.244.3.4:80" {
		t.Errorf("pod IP without a sandbox: %q, %v", got, err)
	}
	if _, err := net.DialTimeout("tcp4", "10.244.3.4:81", 5*time.Second); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a closed port: %v", err)
	}
}

// BenchmarkEnsure measures what a sandbox costs to make and remove.
func BenchmarkEnsure(b *testing.B) {
	if os.Getenv(envPrivate) == "" {
		b.Skip("needs the private network namespace")
	}
	cfg := Config{Dir: b.TempDir(), ID: "bench", ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"), ServiceCIDR: netip.MustParsePrefix("10.96.0.0/12"), Route: true}
	n, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ip := netip.AddrFrom4([4]byte{10, 244, byte(1 + i/250), byte(2 + i%250)})
		if _, err := n.Ensure(testPod(fmt.Sprint("uid-", i), "p", ip.String()), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	start := time.Now()
	for _, uid := range n.UIDs() {
		n.Remove(uid)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs-remove/op")
}

// TestUsageFromCgroups: a process started in a sandbox is accounted to the
// pod's cgroup (CPU time it burns, memory it holds), and killed with it.
func TestUsageFromCgroups(t *testing.T) {
	needPrivate(t)
	n, err := Open(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	s, err := n.Ensure(testPod("uid-cpu", "burn", "10.244.1.9"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.Usage(); !ok {
		t.Skip("skipped: no cgroup v1 cpuacct+memory or v2 cpu+memory here")
	}
	burn := exec.Command("sh", "-c", "while :; do :; done")
	if err := s.Start(burn); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = burn.Wait(); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cpu, mem, _ := s.Usage()
		if cpu > uint64(200*time.Millisecond) && mem > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage after 10 s of a busy loop: cpu %v, memory %d", time.Duration(cpu), mem)
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.Remove("uid-cpu")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the busy loop outlived its sandbox")
	}
}
