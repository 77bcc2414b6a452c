package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/podwarden/podwarden/integration/harness"
)

// kubectlRun is what one kubectl run gave.
type kubectlRun struct {
	stdout, stderr string
	code           int
}

// try runs kubectl with stdin and extra environment, and returns its output
// and exit code whatever they are, within a minute.
func (k kubectl) try(stdin string, env []string, args ...string) kubectlRun {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+k.kubeconfig), env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		k.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	k.t.Logf("$ kubectl %s (exit %d)\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return kubectlRun{stdout.String(), stderr.String(), code}
}

const streamPods = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  hostname: web-1
  subdomain: nginx
  containers:
  - name: nginx
    image: nginx:1.25.3
    env:
    - name: GREETING
      value: hello
    - name: MY_POD_IP
      valueFrom:
        fieldRef: {fieldPath: status.podIP}
---
apiVersion: v1
kind: Pod
metadata:
  name: done
spec:
  restartPolicy: Never
  containers:
  - name: job
    image: busybox
    command: ["true"]
---
apiVersion: v1
kind: Service
metadata:
  name: nginx
spec:
  selector: {app: web}
  ports:
  - name: http
    port: 8000
    targetPort: 80
`

// TestKubectlExec: kubectl exec into a simulated container, over both of the
// protocols kubectl speaks (WebSocket v5, and SPDY with the websockets turned
// off): the pod's hostname, env and files, stdin, exit codes, and Kubernetes'
// errors for what cannot be exec'ed into.
func TestKubectlExec(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	k.run("apply", "-f", writeTemp(t, streamPods))
	k.run("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
	k.run("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/done", "--timeout=60s")

	for _, proto := range []struct {
		name string
		env  []string
	}{{"websocket", nil}, {"spdy", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}}} {
		t.Run(proto.name, func(t *testing.T) {
			k := k
			k.t = t
			run := func(stdin string, args ...string) kubectlRun { return k.try(stdin, proto.env, args...) }
			if r := run("", "exec", "web", "--", "hostname"); r.code != 0 || r.stdout != "web-1\n" {
				t.Fatalf("hostname: %+v", r)
			}
			if r := run("", "exec", "web", "--", "sh", "-c", "exit 3"); r.code != 3 {
				t.Fatalf("exit 3: exit code %d, want 3 (%+v)", r.code, r)
			}
			if r := run("hello\nworld\n", "exec", "-i", "web", "--", "cat"); r.code != 0 || r.stdout != "hello\nworld\n" {
				t.Fatalf("exec -i cat: %+v", r)
			}
			if r := run("echo $HOSTNAME $GREETING\nexit 5\n", "exec", "-i", "web", "--", "sh"); r.code != 5 || r.stdout != "web-1 hello\n" {
				t.Fatalf("exec -i sh: %+v", r)
			}
			r := run("", "exec", "web", "--", "sh", "-c", "echo $KUBERNETES_SERVICE_HOST $MY_POD_IP; cat /etc/resolv.conf /etc/hosts")
			wantLines(t, r.stdout, "10.96.0.1 10.", "search default.svc.cluster.local svc.cluster.local cluster.local", "nameserver 10.96.0.10",
				"web-1.nginx.default.svc.cluster.local\tweb-1")
			if r := run("", "exec", "web", "--", "nginx", "-v"); r.code != 0 || r.stderr != "nginx version: nginx/1.25.3\n" {
				t.Fatalf("nginx -v: %+v", r)
			}
			if r := run("", "exec", "web", "--", "sh", "-c", "curl web-0"); r.code != 127 || !strings.Contains(r.stderr, "sh: curl: not found") {
				t.Fatalf("unknown program in sh: %+v", r)
			}
			if r := run("", "exec", "web", "--", "nslookup", "nginx"); r.code != 0 ||
				!regexp.MustCompile(`Server:    10\.96\.0\.10\nAddress 1: 10\.96\.0\.10 kube-dns\.kube-system\.svc\.cluster\.local\n\nName:      nginx\nAddress 1: 10\.\d+\.\d+\.\d+ nginx\.default\.svc\.cluster\.local\n`).MatchString(r.stdout) {
				t.Fatalf("nslookup of the Service through the cluster DNS: %+v", r)
			}
			if r := run("", "exec", "web", "--", "nslookup", "nope"); r.code != 1 || !strings.Contains(r.stderr, "nslookup: can't resolve 'nope'") {
				t.Fatalf("nslookup of a missing name: %+v", r)
			}
			if r := run("", "exec", "web", "--", "perl", "-v"); r.code == 0 || !strings.Contains(r.stderr, `exec: "perl": executable file not found in $PATH`) {
				t.Fatalf("unknown program: %+v", r)
			}
			if r := run("", "exec", "nope", "--", "hostname"); r.code != 1 || !strings.Contains(r.stderr, `pods "nope" not found`) {
				t.Fatalf("missing pod: %+v", r)
			}
			if r := run("", "exec", "web", "-c", "nope", "--", "hostname"); r.code != 1 || !strings.Contains(r.stderr, "container nope is not valid for pod web") {
				t.Fatalf("missing container: %+v", r)
			}
			if r := run("", "exec", "done", "--", "hostname"); r.code != 1 || !strings.Contains(r.stderr, "cannot exec into a container in a completed pod; current phase is Succeeded") {
				t.Fatalf("completed pod: %+v", r)
			}
		})
	}
}

// TestKubectlExecNotRunning: a container that is not running is refused by
// the kubelet: `unable to upgrade connection: container not found`.
func TestKubectlExecNotRunning(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_SIM_START_DELAY=1h"}})
	k := newKubectl(t, bin, s.GatewayURL)
	k.run("run", "slow", "--image=nginx")
	a := api{t: t, base: s.GatewayURL}
	eventually(t, 30*time.Second, "pod slow bound", func() (bool, string) {
		n := str(path(a.mustGet("/api/v1/namespaces/default/pods/slow"), "spec", "nodeName"))
		return n != "", n
	})
	r := k.try("", nil, "exec", "slow", "--", "hostname")
	if r.code != 1 || !strings.Contains(r.stderr, `unable to upgrade connection: container not found ("slow")`) {
		t.Fatalf("exec into a creating container: %+v", r)
	}
	r = k.try("", nil, "port-forward", "pod/slow", "8080:80")
	if r.code != 1 || !strings.Contains(r.stderr, "unable to forward port because pod is not running. Current status=Pending") {
		t.Fatalf("port-forward to a pending pod: %+v", r)
	}
}

// TestKubectlPortForward: kubectl port-forward to a simulated nginx answers
// its default page on loopback; a closed port is refused; pods/proxy reaches
// the same server.
func TestKubectlPortForward(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	k.run("apply", "-f", writeTemp(t, streamPods))
	k.run("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")

	for _, proto := range []struct {
		name string
		env  []string
	}{{"websocket", nil}, {"spdy", []string{"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}}} {
		t.Run(proto.name, func(t *testing.T) {
			port, stderr, stop := portForward(t, k, proto.env, "pod/web", "0:80")
			defer stop()
			resp, err := http.Get("http://127.0.0.1:" + port + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>Welcome to nginx!</title>") || resp.Header.Get("Server") != "nginx/1.25.3" {
				t.Fatalf("GET through port-forward: %d %v\n%s", resp.StatusCode, resp.Header, body)
			}
			stop()

			port, stderr, stop = portForward(t, k, proto.env, "pod/web", "0:8080")
			defer stop()
			if resp, err := http.Get("http://127.0.0.1:" + port + "/"); err == nil {
				resp.Body.Close()
				t.Fatalf("GET to a closed port answered %d", resp.StatusCode)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(stderr.String(), "connection refused") && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if !strings.Contains(stderr.String(), "error forwarding port 8080") || !strings.Contains(stderr.String(), "connection refused") {
				t.Fatalf("closed port: kubectl said %q", stderr.String())
			}
		})
	}

	a := api{t: t, base: s.GatewayURL}
	r := a.get("/api/v1/namespaces/default/pods/web:80/proxy/")
	if r.Code != 200 || !strings.Contains(string(r.Body), "Welcome to nginx!") {
		t.Fatalf("pods/proxy: %d %s", r.Code, r.Body)
	}
	if r := a.get("/api/v1/namespaces/default/pods/web:80/proxy/missing.html"); r.Code != 404 {
		t.Fatalf("pods/proxy of a missing page: %d %s", r.Code, r.Body)
	}
	if r := a.get("/api/v1/namespaces/default/pods/web:8080/proxy/"); r.Code != 503 || !strings.Contains(string(r.Body), "connection refused") {
		t.Fatalf("pods/proxy to a closed port: %d %s", r.Code, r.Body)
	}
	eventually(t, 30*time.Second, "services/proxy reaches the endpoint", func() (bool, string) {
		r := a.get("/api/v1/namespaces/default/services/nginx:http/proxy/")
		return r.Code == 200 && strings.Contains(string(r.Body), "Welcome to nginx!"), fmt.Sprintf("%d %s", r.Code, r.Body)
	})
	if r := a.get("/api/v1/namespaces/default/services/nope/proxy/"); r.Code != 404 {
		t.Fatalf("services/proxy of a missing service: %d %s", r.Code, r.Body)
	}
}

// lockedBuffer is a buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{mu: make(chan struct{}, 1)} }

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.b.String()
}

var forwardingRE = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) ->`)

// portForward runs `kubectl port-forward target ports` until stop, and
// returns the local port it listens on and its stderr.
func portForward(t *testing.T, k kubectl, env []string, target, ports string) (string, *lockedBuffer, func()) {
	t.Helper()
	cmd := exec.Command(k.bin, "--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "port-forward", "--address", "127.0.0.1", target, ports)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+k.kubeconfig), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := newLockedBuffer()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := forwardingRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case port := <-found:
		return port, stderr, stop
	case <-time.After(30 * time.Second):
		stop()
		t.Fatalf("kubectl port-forward %s %s did not listen: %s", target, ports, stderr.String())
	}
	return "", nil, stop
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprint(f, content); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return f.Name()
}

// TestKubectlExecRuntime: under the exec runtime (no sandbox) exec runs the
// command as a process of the machine with the container's environment and
// HOSTNAME, and port-forward reaches the container's real server.
func TestKubectlExecRuntime(t *testing.T) {
	bin := kubectlBin(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH")
	}
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_RUNTIME=exec"}})
	k := newKubectl(t, bin, s.GatewayURL)
	k.run("apply", "-f", writeTemp(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: server
spec:
  containers:
  - name: http
    image: python:3
    command: [%q, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"]
    env:
    - name: GREETING
      value: hello
`, py)))
	k.run("wait", "--for=condition=Ready", "pod/server", "--timeout=60s")
	// The server binds a port the kernel picks (none picked free here and taken by
	// another process before it binds) and logs it.
	var port string
	eventually(t, 30*time.Second, "the container's server logs its port", func() (bool, string) {
		r := k.try("", nil, "logs", "server")
		m := servingPort.FindStringSubmatch(r.stdout)
		if m != nil {
			port = m[1]
		}
		return m != nil, r.stdout + r.stderr
	})
	r := k.try("", nil, "exec", "server", "--", "sh", "-c", "echo $HOSTNAME $GREETING $KUBERNETES_SERVICE_HOST; exit 3")
	if r.code != 3 || r.stdout != "server hello 10.96.0.1\n" {
		t.Fatalf("exec: %+v", r)
	}
	if r := k.try("abc\n", nil, "exec", "-i", "server", "--", "cat"); r.code != 0 || r.stdout != "abc\n" {
		t.Fatalf("exec -i: %+v", r)
	}
	// The server's port is the machine's (no sandbox): wait until it listens,
	// since kubectl port-forward gives up on its first refused connection.
	eventually(t, 30*time.Second, "the container's server listens", func() (bool, string) {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
		}
		return err == nil, fmt.Sprint(err)
	})
	local, _, stop := portForward(t, k, nil, "pod/server", "0:"+port)
	defer stop()
	var resp *http.Response
	eventually(t, 30*time.Second, "the server answers through port-forward", func() (bool, string) {
		resp, err = http.Get("http://127.0.0.1:" + local + "/")
		return err == nil, fmt.Sprint(err)
	})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Directory listing") {
		t.Fatalf("GET through port-forward: %d\n%s", resp.StatusCode, body)
	}
}

// TestKubectlExecTTY: `kubectl exec -ti pod -- sh` on a terminal gives an
// interactive shell of the pod.
func TestKubectlExecTTY(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	k.run("apply", "-f", writeTemp(t, streamPods))
	k.run("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
	cmd := exec.Command(k.bin, "--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "exec", "-ti", "web", "--", "sh")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	screen := newLockedBuffer()
	go func() { _, _ = io.Copy(screen, tty) }()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(screen.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("the terminal never showed %q:\n%s", what, screen.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("/ # ")
	_, _ = tty.Write([]byte("hostname\r"))
	waitFor("web-1\r\n/ # ")
	_, _ = tty.Write([]byte("exit 4\r"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 4 {
			t.Fatalf("kubectl exec -ti ended with %v, want exit code 4:\n%s", err, screen.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("kubectl exec -ti did not end:\n%s", screen.String())
	}
}

// TestKubectlAttach: kubectl attach shows what the container writes.
func TestKubectlAttach(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	k.run("run", "ticker", "--image=busybox", "--restart=Never", "--", "sh", "-c", "sleep 2; echo tick; sleep 1; echo tock; sleep 1")
	k.run("wait", "--for=condition=Ready", "pod/ticker", "--timeout=60s")
	r := k.try("", nil, "attach", "ticker")
	if !strings.Contains(r.stdout, "tock\n") {
		t.Fatalf("attach: %+v", r)
	}
}

// servingPort is the port in python's http.server's first line ("Serving HTTP on
// 127.0.0.1 port 36123 (http://127.0.0.1:36123/) ...").
var servingPort = regexp.MustCompile(`Serving HTTP on \S+ port (\d+)`)

// TestKubectlCp: kubectl cp (tar over exec) into and out of a simulated
// container: what was copied in is there for later commands.
func TestKubectlCp(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	k.run("apply", "-f", writeTemp(t, streamPods))
	k.run("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/index.html", []byte("<h1>hello from cp</h1>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.run("cp", dir+"/index.html", "web:/tmp/index.html")
	if r := k.try("", nil, "exec", "web", "--", "cat", "/tmp/index.html"); r.stdout != "<h1>hello from cp</h1>\n" {
		t.Fatalf("cat of the copied file: %+v", r)
	}
	k.run("cp", "web:/etc/hosts", dir+"/hosts")
	got, err := os.ReadFile(dir + "/hosts")
	if err != nil || !strings.Contains(string(got), "web-1.nginx.default.svc.cluster.local\tweb-1") {
		t.Fatalf("copied /etc/hosts: %v\n%s", err, got)
	}
	k.run("cp", "web:/tmp/index.html", dir+"/back.html")
	if back, _ := os.ReadFile(dir + "/back.html"); string(back) != "<h1>hello from cp</h1>\n" {
		t.Fatalf("round trip: %q", back)
	}
}
