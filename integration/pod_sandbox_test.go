package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/vishvananda/netlink"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/podwarden/podwarden/integration/harness"
)

// envPrivateNetns marks a test re-run in a network namespace of its own.
const envPrivateNetns = "PODWARDEN_TEST_PRIVATE_NETNS"

// inPrivateNetns runs the test alone in a fresh network namespace (loopback
// only, no default route: nothing it does can reach the machine's network)
// and reports false to the caller, which returns; in that re-run it reports
// true. Without the capability to make one, the test is skipped.
func inPrivateNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envPrivateNetns) != "" {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			t.Fatalf("loopback of the private network namespace: %v", err)
		}
		return true
	}
	if binDir == "" {
		t.Skip("skipped: no built binaries to hand to a re-run")
	}
	var env []string
	for _, kv := range os.Environ() {
		// The test Postgres listens on the machine's loopback, out of reach: the
		// re-run starts its own.
		if !strings.HasPrefix(kv, "PODWARDEN_TEST_POSTGRES_DSN=") {
			env = append(env, kv)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/exe", "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(env, envPrivateNetns+"=1", envBins+"="+binDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("skipped: pod sandboxes need root (or CAP_NET_ADMIN and CAP_SYS_ADMIN): a private network namespace: %v", err)
	}
	t.Logf("re-run in a private network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("the re-run failed: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP: "+t.Name()) {
		t.Skip("skipped in the re-run")
	}
	return false
}

// routeDev is the interface the route to ip leaves by ("" when none).
func routeDev(t *testing.T, ip string) (name, kind string) {
	t.Helper()
	rs, err := netlink.RouteGet(net.ParseIP(ip))
	if err != nil || len(rs) == 0 {
		return "", ""
	}
	l, err := netlink.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Name, l.Type()
}

// checkRoutes is the safety rule: a pod IP and a ClusterIP are routed into the
// pod network by the project's link (a veth named pw...), or not at all; never
// by a default route (this namespace has none: 8.8.8.8 has no route).
func checkRoutes(t *testing.T, when string, wantLink bool, ips ...string) {
	t.Helper()
	if dev, _ := routeDev(t, "8.8.8.8"); dev != "" {
		t.Fatalf("%s: 8.8.8.8 is routed by %s: the test's namespace must have no default route", when, dev)
	}
	for _, ip := range ips {
		dev, kind := routeDev(t, ip)
		switch {
		case wantLink && (!strings.HasPrefix(dev, "pw") || kind != "veth"):
			t.Errorf("%s: %s is routed by %q (%s), want the project's link pw...", when, ip, dev, kind)
		case !wantLink && dev != "":
			t.Errorf("%s: %s is still routed by %s", when, ip, dev)
		}
	}
}

// TestPodSandbox is the StatefulSet chapter's steps into pods with pod
// sandboxes: kubectl exec runs the machine's programs in the pod's network,
// UTS and mount namespaces (hostname, resolv.conf, hosts, the cluster DNS
// through the pod network); routes lead into the pod network only; a node
// service killed with kill -9 leaves nothing after its next start, and a
// stopped one nothing at all.
func TestPodSandbox(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	bin := kubectlBin(t)
	dir := t.TempDir()
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_SANDBOX=on", "PODWARDEN_SANDBOX_DIR=" + dir, "PODWARDEN_SANDBOX_ROUTES=on"}})
	t.Cleanup(func() {
		s.Terminate("node", 20*time.Second)
		_ = exec.Command(bins["node"], "-sandbox-clean", "-sandbox-dir", dir).Run()
	})
	k := newKubectl(t, bin, s.GatewayURL)
	a := api{t: t, base: s.GatewayURL}
	k.run("apply", "-f", "testdata/manifests/statefulset-web.yaml")
	podIP := func(name string) string {
		var ip string
		eventually(t, 90*time.Second, name+" ready", func() (bool, string) {
			r := a.get("/api/v1/namespaces/default/pods/" + name)
			if r.Code != 200 {
				return false, string(r.Body)
			}
			p := r.JSON()
			ip = str(path(p, "status", "podIP"))
			for _, c := range asList(path(p, "status", "conditions")) {
				if path(c, "type") == "Ready" && path(c, "status") == "True" {
					return ip != "", ip
				}
			}
			return false, ip
		})
		return ip
	}
	ip0, ip1 := podIP("web-0"), podIP("web-1")
	inPod := func(args ...string) kubectlRun {
		return k.try("", nil, append([]string{"exec", "web-1", "--"}, args...)...)
	}

	if r := inPod("hostname"); r.code != 0 || r.stdout != "web-1\n" {
		t.Fatalf("hostname: %+v", r)
	}
	// The kernel's hostname (a UTS namespace), which the sim's shell cannot show.
	if r := inPod("cat", "/proc/sys/kernel/hostname"); r.code != 0 || r.stdout != "web-1\n" {
		t.Fatalf("the UTS namespace's hostname: %+v", r)
	}
	r := inPod("cat", "/etc/resolv.conf", "/etc/hosts")
	wantLines(t, r.stdout, "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5",
		ip1+"\tweb-1.nginx.default.svc.cluster.local\tweb-1")
	if machine, _ := os.ReadFile("/etc/resolv.conf"); strings.Contains(string(machine), "10.96.0.10") {
		t.Fatalf("the machine's resolv.conf changed:\n%s", machine)
	}
	// The pod's own network: its IP on eth0.
	if r := inPod("cat", "/proc/net/fib_trie"); !strings.Contains(r.stdout, ip1) || strings.Contains(r.stdout, ip0) {
		t.Fatalf("the pod's addresses: %+v", r)
	}
	// glibc's resolver asks the cluster DNS (nameserver 10.96.0.10, inside the
	// pod network) with the search path.
	if r := inPod("getent", "hosts", "web-0.nginx"); r.code != 0 || !strings.HasPrefix(r.stdout, ip0+" ") || !strings.Contains(r.stdout, "web-0.nginx.default.svc.cluster.local") {
		t.Fatalf("getent hosts web-0.nginx: %+v", r)
	}
	if r := inPod("nslookup", "web-0.nginx"); r.code != 0 || !strings.Contains(r.stdout, ip0) {
		t.Fatalf("nslookup web-0.nginx: %+v", r)
	}
	if r := inPod("sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("exit 3: %+v", r)
	}
	if r := k.try("hello\n", nil, "exec", "-i", "web-1", "--", "sh", "-c", "cat; echo $HOSTNAME"); r.code != 0 || r.stdout != "hello\nweb-1\n" {
		t.Fatalf("exec -i: %+v", r)
	}
	// exec -ti: the machine's sh on a terminal in the sandbox.
	cmd := exec.Command(k.bin, "--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "exec", "-ti", "web-1", "--", "sh", "-c", "tty; cat /proc/sys/kernel/hostname; read x; exit $x")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	screen := newLockedBuffer()
	go func() { _, _ = io.Copy(screen, tty) }()
	eventually(t, 30*time.Second, "the terminal shows the pod's hostname", func() (bool, string) {
		return strings.Contains(screen.String(), "/dev/pts/") && strings.Contains(screen.String(), "web-1"), screen.String()
	})
	_, _ = tty.Write([]byte("4\r"))
	if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() != 4 {
		t.Fatalf("exec -ti ended with %v, want exit code 4:\n%s", err, screen.String())
	}

	checkRoutes(t, "after setup", true, ip0, ip1, "10.96.0.1", "10.96.0.10")

	// Services: a ClusterIP reaches the ready endpoints (the simulated nginx of
	// web-0 and web-2, answered by the pod network, and of web-1 in its
	// sandbox), from the node and from a pod by the Service's name; a ClusterIP
	// without endpoints refuses.
	clusterIP := str(path(a.expect(a.postJSON("/api/v1/namespaces/default/services", map[string]any{
		"metadata": map[string]any{"name": "web"},
		"spec":     map[string]any{"selector": map[string]any{"app": "nginx"}, "ports": []any{map[string]any{"port": 80}}},
	}), 201, "create Service web"), "spec", "clusterIP"))
	emptyIP := str(path(a.expect(a.postJSON("/api/v1/namespaces/default/services", map[string]any{
		"metadata": map[string]any{"name": "empty"},
		"spec":     map[string]any{"selector": map[string]any{"app": "nobody"}, "ports": []any{map[string]any{"port": 80}}},
	}), 201, "create Service empty"), "spec", "clusterIP"))
	httpGet := func(url string) (string, error) {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	eventually(t, 30*time.Second, "the ClusterIP answers from the node", func() (bool, string) {
		body, err := httpGet("http://" + clusterIP + "/")
		return strings.Contains(body, "<title>Welcome to nginx!</title>"), fmt.Sprint(body, err)
	})
	for i := 0; i < 10; i++ {
		if body, err := httpGet("http://" + clusterIP + "/"); err != nil || !strings.Contains(body, "Welcome to nginx!") {
			t.Fatalf("ClusterIP %s from the node, try %d: %v %q", clusterIP, i, err, body)
		}
	}
	if body, err := httpGet("http://" + ip0 + "/"); err != nil || !strings.Contains(body, "Welcome to nginx!") {
		t.Fatalf("curl <pod IP> from the node: %v %q", err, body)
	}
	// From inside a pod, by the Service's name through the cluster DNS: wget when
	// the machine has it, else bash's /dev/tcp.
	get := []string{"bash", "-c", "exec 3<>/dev/tcp/web/80 && printf 'GET / HTTP/1.0\r\nHost: web\r\n\r\n' >&3 && cat <&3"}
	if _, err := exec.LookPath("wget"); err == nil {
		get = []string{"wget", "-qO-", "http://web"}
	}
	if r := inPod(get...); r.code != 0 || !strings.Contains(r.stdout, "<title>Welcome to nginx!</title>") {
		t.Fatalf("the Service by name from web-1: %+v", r)
	}
	if _, err := net.DialTimeout("tcp4", emptyIP+":80", 5*time.Second); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("a ClusterIP without endpoints: %v, want connection refused", err)
	}
	checkRoutes(t, "with Services", true, clusterIP, emptyIP)

	// kill -9: the pod network and the sandboxes stay behind; the next start
	// removes them and makes a new pod network.
	state := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "*", "net", "*"))
		return m
	}
	before := state()
	if len(before) < 2 {
		t.Fatalf("state before the kill: %v, want the pod network and web-1's sandbox", before)
	}
	var podnetBefore syscall.Stat_t
	if err := syscall.Stat(filepath.Join(filepath.Dir(before[0]), "podnet"), &podnetBefore); err != nil {
		t.Fatal(err)
	}
	s.Kill("node")
	if _, err := s.StartService("node", 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.WaitReady(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	after := state()
	if len(after) != 1 || !strings.HasSuffix(after[0], "/podnet") {
		t.Fatalf("state after the restart: %v, want only a new pod network", after)
	}
	var podnetAfter syscall.Stat_t
	if err := syscall.Stat(after[0], &podnetAfter); err != nil || podnetAfter.Ino == podnetBefore.Ino {
		t.Fatalf("the pod network was not made anew (%v)", err)
	}
	checkRoutes(t, "after the restart", true, ip0, "10.96.0.1")
	if r := inPod("hostname"); r.code != 0 || r.stdout != "web-1\n" {
		t.Fatalf("hostname after the restart: %+v", r)
	}

	// A stopped node service leaves nothing: no state, no route.
	s.Terminate("node", 30*time.Second)
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("left after the node service stopped: %v", left)
	}
	checkRoutes(t, "after teardown", false, ip0, ip1, "10.96.0.1")
}

// perlServer is a one-connection-at-a-time HTTP server in perl-base (on every
// Debian machine): it answers with the kernel's hostname, which is the pod's
// in its sandbox.
const perlServer = `apiVersion: v1
kind: Pod
metadata:
  name: srv
  labels: {app: srv}
spec:
  containers:
  - name: srv
    image: perl
    command: ["perl", "-MIO::Socket::INET", "-e"]
    args:
    - |
      # podwarden-sandbox-test-server
      $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die "listen: $!";
      while ($c = $s->accept) {
        while (<$c>) { last if /^\r?\n$/ }  # read the request: closing on unread data would reset
        open(my $h, "<", "/proc/sys/kernel/hostname"); my $name = <$h>; chomp $name;
        print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from $name\n"; close $c;
      }
    ports:
    - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: srv
spec:
  selector: {app: srv}
  ports:
  - port: 80
    targetPort: 8080
`

// serverPIDs are the processes running perlServer.
func serverPIDs() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(b), "podwarden-sandbox-test-server") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestPodSandboxExecRuntime: under the exec runtime a container's process runs
// in its pod's sandbox, so a real server in it is reachable at the pod IP and
// through a ClusterIP, with the pod's hostname; after a kill -9 of the node
// service the next start kills what it left running in the sandbox.
func TestPodSandboxExecRuntime(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	bin := kubectlBin(t)
	dir := t.TempDir()
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_RUNTIME=exec", "PODWARDEN_SANDBOX=on", "PODWARDEN_SANDBOX_DIR=" + dir, "PODWARDEN_SANDBOX_ROUTES=on"}})
	t.Cleanup(func() {
		s.Terminate("node", 20*time.Second)
		_ = exec.Command(bins["node"], "-sandbox-clean", "-sandbox-dir", dir).Run()
	})
	k := newKubectl(t, bin, s.GatewayURL)
	a := api{t: t, base: s.GatewayURL}
	k.run("apply", "-f", writeTemp(t, perlServer))
	var ip string
	eventually(t, 60*time.Second, "srv has an IP", func() (bool, string) {
		ip = str(path(a.mustGet("/api/v1/namespaces/default/pods/srv"), "status", "podIP"))
		return ip != "", ip
	})
	get := func(url string) (string, error) {
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	eventually(t, 60*time.Second, "the server answers at the pod IP", func() (bool, string) {
		body, err := get("http://" + ip + ":8080/")
		return body == "hello from srv\n", fmt.Sprint(body, err)
	})
	clusterIP := str(path(a.mustGet("/api/v1/namespaces/default/services/srv"), "spec", "clusterIP"))
	eventually(t, 30*time.Second, "the server answers at the ClusterIP", func() (bool, string) {
		body, err := get("http://" + clusterIP + "/")
		return body == "hello from srv\n", fmt.Sprint(body, err)
	})
	if body, err := get(s.GatewayURL + "/api/v1/namespaces/default/pods/srv:8080/proxy/"); err != nil || body != "hello from srv\n" {
		t.Fatalf("the pod proxy: %q %v", body, err)
	}
	// kubectl port-forward dials localhost inside the pod's sandbox, as the kubelet does.
	port, stderr, stop := portForward(t, k, nil, "pod/srv", ":8080")
	body, err := get("http://127.0.0.1:" + port + "/")
	stop()
	if err != nil || body != "hello from srv\n" {
		t.Fatalf("port-forward: %q %v (%s)", body, err, stderr.String())
	}
	if r := k.try("", nil, "exec", "srv", "--", "cat", "/proc/sys/kernel/hostname"); r.code != 0 || r.stdout != "srv\n" {
		t.Fatalf("exec: %+v", r)
	}
	// Real usage: a busy loop's CPU, from its sandbox's cgroup, in the metrics API
	// (what kubectl top and the HPA read).
	k.run("run", "burn", "--image=busybox", "--", "sh", "-c", "while :; do :; done")
	eventually(t, 90*time.Second, "the busy loop's CPU in the metrics API", func() (bool, string) {
		r := a.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burn")
		cpu := ""
		for _, c := range asList(path(r.JSON(), "containers")) {
			cpu = str(path(c, "usage", "cpu"))
		}
		q, err := resource.ParseQuantity(cpu)
		return err == nil && q.MilliValue() >= 200, fmt.Sprintf("%d %s", r.Code, r.Body)
	})
	k.run("delete", "pod", "burn", "--grace-period=1")
	old := serverPIDs()
	if len(old) != 1 {
		t.Fatalf("server processes: %v, want 1", old)
	}
	s.Kill("node")
	if err := syscall.Kill(old[0], 0); err != nil {
		t.Fatalf("the server died with the node service (%v): the kill -9 case needs it alive", err)
	}
	if _, err := s.StartService("node", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the killed service's server process is gone", func() (bool, string) {
		err := syscall.Kill(old[0], 0)
		return errors.Is(err, syscall.ESRCH), fmt.Sprint(err)
	})
	eventually(t, 60*time.Second, "the server answers again", func() (bool, string) {
		body, err := get("http://" + ip + ":8080/")
		return body == "hello from srv\n", fmt.Sprint(body, err)
	})
	s.Terminate("node", 30*time.Second)
	eventually(t, 10*time.Second, "no server process after the node service stopped", func() (bool, string) {
		pids := serverPIDs()
		return len(pids) == 0, fmt.Sprint(pids)
	})
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("left after the node service stopped: %v", left)
	}
}
