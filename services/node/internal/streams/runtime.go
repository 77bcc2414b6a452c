package streams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/podwarden/podwarden/services/node/internal/simsh"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// runtime is the streaming server's container runtime (cri-streaming's
// Runtime): container ids are "namespace/name/container/uid" and sandbox ids
// "namespace/name/uid", resolved against the store when the stream starts.
type runtime struct{ s *Server }

func containerKey(p *corev1.Pod, container string) string {
	m := p.GetMetadata()
	return m.GetNamespace() + "/" + m.GetName() + "/" + container + "/" + m.GetUid()
}

func sandboxKey(p *corev1.Pod) string {
	m := p.GetMetadata()
	return m.GetNamespace() + "/" + m.GetName() + "/" + m.GetUid()
}

// pod reads the pod of a key and checks it is the same incarnation.
func (r runtime) pod(ctx context.Context, key string) (*corev1.Pod, []string, error) {
	parts := strings.Split(key, "/")
	if len(parts) < 3 {
		return nil, nil, fmt.Errorf("bad id %q", key)
	}
	p, err := r.s.cfg.Pods(ctx, parts[0], parts[1])
	if err != nil {
		return nil, nil, err
	}
	if p.GetMetadata().GetUid() != parts[len(parts)-1] {
		return nil, nil, fmt.Errorf("pod %s/%s was replaced", parts[0], parts[1])
	}
	return p, parts, nil
}

// Exec runs cmd in the container: in the sim's shell, or as a real process
// with the container's environment under the exec runtime.
func (r runtime) Exec(ctx context.Context, containerID string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	r.s.active.Add(1)
	defer r.s.active.Add(-1)
	p, parts, err := r.pod(ctx, containerID)
	if err != nil {
		return err
	}
	c := Container(p, parts[2])
	if c == nil {
		return fmt.Errorf("container not found (%q)", parts[2])
	}
	var code int
	sb, err := r.s.sandbox(p)
	if err != nil {
		return err
	}
	switch {
	case sb != nil && (r.s.cfg.ExecRuntime || onMachine(cmd[0])):
		code, err = r.s.execProcess(ctx, p, c, cmd, in, out, errw, tty, resize, sb.Start)
	case r.s.cfg.ExecRuntime:
		code, err = r.s.execProcess(ctx, p, c, cmd, in, out, errw, tty, resize, nil)
	default:
		go drainResize(ctx, resize)
		code, err = simsh.Exec(ctx, r.s.machine(p, c), cmd, simsh.Streams{Stdin: in, Stdout: writerOrNil(out), Stderr: writerOrNil(errw), TTY: tty})
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("error executing command %v, exit code %d", cmd, code), Code: code}
	}
	return nil
}

func writerOrNil(w io.WriteCloser) io.Writer {
	if w == nil {
		return nil
	}
	return w
}

func drainResize(ctx context.Context, ch <-chan remotecommand.TerminalSize) {
	if ch == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
		}
	}
}

// MaxWrittenBytes bounds what commands may write into one simulated pod.
const MaxWrittenBytes = 16 << 20

// MaxWrittenPods bounds the pods whose written files are kept.
const MaxWrittenPods = 256

// errNoSpace is what a write past MaxWrittenBytes fails with.
var errNoSpace = errors.New("No space left on device")

// machine is what the sim's shell sees of container c: the kubelet's files
// and what earlier commands wrote into the pod.
func (s *Server) machine(p *corev1.Pod, c *corev1.Container) *simsh.Machine {
	uid := p.GetMetadata().GetUid()
	files := Files(p, s.cfg.DNSIP)
	s.mu.Lock()
	for k, v := range s.written[uid] {
		files[k] = v
	}
	s.mu.Unlock()
	return &simsh.Machine{
		Hostname: Hostname(p),
		Env:      Env(p, c, DefaultPath, s.cfg.KubernetesIP),
		Files:    files,
		Image:    c.GetImage(),
		Lookup:   s.lookup(p),
		WriteFile: func(path string, content []byte) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			w := s.written[uid]
			if w == nil {
				for other := range s.written {
					if len(s.written) < MaxWrittenPods {
						break
					}
					delete(s.written, other) // the pod is likely long gone
				}
				w = map[string]string{}
				s.written[uid] = w
			}
			total := len(content)
			for k, v := range w {
				if k != path {
					total += len(v)
				}
			}
			if total > MaxWrittenBytes {
				return errNoSpace
			}
			w[path] = string(content)
			return nil
		},
	}
}

// sandbox is the pod's sandbox when pods get them (nil otherwise).
func (s *Server) sandbox(p *corev1.Pod) (Sandbox, error) {
	if s.cfg.Sandboxes == nil {
		return nil, nil
	}
	return s.cfg.Sandboxes.Sandbox(p)
}

// onMachine reports whether the machine has the program (in a sandbox of a
// simulated container, what the machine lacks and the sim's shell models,
// like nslookup or nginx -v, is answered by the sim's shell).
func onMachine(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// execProcess runs cmd as a process of the machine with the container's
// environment (PATH is the machine's, so its programs run), in its own process
// group, killed with the group when the stream ends; start, when set, starts
// it (in the pod's sandbox).
func (s *Server) execProcess(ctx context.Context, p *corev1.Pod, c *corev1.Container, argv []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, start func(*exec.Cmd) error) (int, error) {
	if start == nil {
		start = (*exec.Cmd).Start
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = ProcessEnv(p, c, s.cfg.KubernetesIP)
	cmd.Dir = os.TempDir()
	if wd := c.GetWorkingDir(); wd != "" {
		if st, err := os.Stat(wd); err == nil && st.IsDir() {
			cmd.Dir = wd
		}
	}
	cmd.Cancel = func() error {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		return nil
	}
	cmd.WaitDelay = time.Second
	if tty {
		return runTTY(ctx, cmd, in, out, resize, start)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if in != nil {
		cmd.Stdin = in
	}
	if out != nil {
		cmd.Stdout = out
	}
	if errw != nil {
		cmd.Stderr = errw
	}
	if err := start(cmd); err != nil {
		return exitCode(err)
	}
	return exitCode(cmd.Wait())
}

// runTTY runs cmd on a pseudo-terminal sized by the client's resize events.
func runTTY(ctx context.Context, cmd *exec.Cmd, in io.Reader, out io.Writer, resize <-chan remotecommand.TerminalSize, start func(*exec.Cmd) error) (int, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	ptmx, tty, err := pty.Open()
	if err != nil {
		return 0, err
	}
	defer ptmx.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	err = start(cmd)
	tty.Close()
	if err != nil {
		return exitCode(err)
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case sz, ok := <-resize:
				if !ok {
					return
				}
				_ = pty.Setsize(ptmx, &pty.Winsize{Rows: sz.Height, Cols: sz.Width})
			}
		}
	}()
	if in != nil {
		go func() { _, _ = io.Copy(ptmx, in) }()
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		if out != nil {
			_, _ = io.Copy(out, ptmx)
		} else {
			_, _ = io.Copy(io.Discard, ptmx)
		}
	}()
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(time.Second):
	}
	return exitCode(err)
}

func exitCode(err error) (int, error) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// Attach streams what the container writes from now on until it stops.
func (r runtime) Attach(ctx context.Context, containerID string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	r.s.active.Add(1)
	defer r.s.active.Add(-1)
	p, parts, err := r.pod(ctx, containerID)
	if err != nil {
		return err
	}
	go drainResize(ctx, resize)
	if in != nil {
		go func() { _, _ = io.Copy(io.Discard, in) }()
	}
	if out == nil || r.s.cfg.Follow == nil {
		<-ctx.Done()
		return nil
	}
	return r.s.cfg.Follow(ctx, p, parts[2], out)
}

// PortForward connects stream to the pod's port: a real port on the machine
// under the exec runtime, the simulated server of a container image that is
// one (nginx, httpd on 80), else refused as a closed port is.
func (r runtime) PortForward(ctx context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error {
	r.s.active.Add(1)
	defer r.s.active.Add(-1)
	defer stream.Close()
	p, _, err := r.pod(ctx, podSandboxID)
	if err != nil {
		return err
	}
	refused := fmt.Errorf("failed to connect to localhost:%d inside namespace %q, IPv4: dial tcp4 127.0.0.1:%d: connect: connection refused IPv6 dial tcp6 [::1]:%d: connect: connection refused ",
		port, podSandboxID, port, port)
	if r.s.cfg.ExecRuntime {
		conn, err := r.s.dialPod(ctx, p, port)
		if err == nil {
			return splice(conn, stream)
		}
		if h := simServer(p, port); h == nil {
			return refused
		}
	}
	h := simServer(p, port)
	if h == nil {
		return refused
	}
	return ServeConn(h, stream)
}

// dialPod connects to a port of an exec runtime pod: localhost in its sandbox
// (as the kubelet's port-forward does), or the machine's without one.
func (s *Server) dialPod(ctx context.Context, p *corev1.Pod, port int32) (net.Conn, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sb, err := s.sandbox(p)
	if err != nil {
		return nil, err
	}
	if sb != nil {
		return sb.Dial(ctx, addr)
	}
	return net.DialTimeout("tcp4", addr, 5*time.Second)
}

// SimServer is the handler of the pod's running simulated container serving
// port (nil when none does).
func SimServer(p *corev1.Pod, port int32) http.Handler { return simServer(p, port) }

// simServer is the handler of the pod's running container serving port.
func simServer(p *corev1.Pod, port int32) http.Handler {
	running := map[string]bool{}
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		running[cs.GetName()] = cs.GetState().GetRunning() != nil
	}
	for _, c := range p.GetSpec().GetContainers() {
		if wp, h := WebServer(c.GetImage()); h != nil && wp == port && running[c.GetName()] {
			return h
		}
	}
	return nil
}

// splice copies both ways until either side ends, then closes both.
func splice(conn net.Conn, stream io.ReadWriteCloser) error {
	var once sync.Once
	closeBoth := func() { once.Do(func() { conn.Close(); stream.Close() }) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(stream, conn)
	closeBoth()
	<-done
	return nil
}

// ServeConn serves HTTP on one stream until the client closes it.
func ServeConn(h http.Handler, stream io.ReadWriteCloser) error {
	c := &streamConn{ReadWriteCloser: stream, closed: make(chan struct{})}
	l := &oneConnListener{conn: c}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}
	srv.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed || st == http.StateHijacked {
			c.Close()
		}
	}
	go func() { <-c.closed; _ = srv.Close() }()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

type streamConn struct {
	io.ReadWriteCloser
	once   sync.Once
	closed chan struct{}
}

func (c *streamConn) Close() error {
	var err error
	c.once.Do(func() { err = c.ReadWriteCloser.Close(); close(c.closed) })
	return err
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "stream" }
func (pipeAddr) String() string  { return "stream" }

func (c *streamConn) LocalAddr() net.Addr              { return pipeAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return pipeAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

type oneConnListener struct {
	conn *streamConn
	mu   sync.Mutex
	done bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if !l.done {
		l.done = true
		l.mu.Unlock()
		return l.conn, nil
	}
	l.mu.Unlock()
	<-l.conn.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return pipeAddr{} }
