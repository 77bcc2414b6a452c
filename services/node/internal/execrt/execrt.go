// Package execrt is the exec runtime of the node service (opt-in): each
// container with a command really runs as a local process, in its own process
// group, with the pod's environment; stdout and stderr become its log and its
// exit code decides the outcome. The image is neither pulled nor used. It runs
// arbitrary commands with the node service's privileges: never enable it on a
// machine where the API is reachable by people you would not give a shell.
package execrt

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/services/node/internal/streams"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// MaxLogLines bounds the log kept per container incarnation.
const MaxLogLines = 10000

// MaxExited bounds the exited incarnations kept (for their exit code and log);
// the oldest are forgotten first.
const MaxExited = 2000

// Runtime runs and tracks the processes. It implements sim.Runtime and the log
// server's LogSource.
type Runtime struct {
	// StartProcess, when set, starts a container's process (in its pod's
	// sandbox); nil starts it as a plain process of the machine.
	StartProcess func(pod *corev1.Pod, cmd *exec.Cmd) error

	mu    sync.Mutex
	procs map[string]*proc   // by container id (one incarnation)
	byPod map[string][]*proc // by pod uid
}

type proc struct {
	id     string
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []sim.LogEntry
	exited bool
	code   int32
	at     time.Time
	done   chan struct{}
	// collected closes when the output is read to its end.
	collected chan struct{}
	killer    *time.Timer
}

// New returns an empty runtime.
func New() *Runtime {
	return &Runtime{procs: map[string]*proc{}, byPod: map[string][]*proc{}}
}

var _ sim.Runtime = (*Runtime)(nil)

// Start runs container c of pod as incarnation id, once.
func (r *Runtime) Start(pod *corev1.Pod, c *corev1.Container, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.procs[id]; ok {
		return
	}
	r.trimLocked()
	p := &proc{id: id, done: make(chan struct{}), collected: make(chan struct{})}
	r.procs[id] = p
	uid := pod.GetMetadata().GetUid()
	r.byPod[uid] = append(r.byPod[uid], p)
	argv := append(append([]string{}, c.GetCommand()...), c.GetArgs()...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = podEnv(pod, c)
	cmd.Dir = os.TempDir()
	if wd := c.GetWorkingDir(); wd != "" {
		if st, err := os.Stat(wd); err == nil && st.IsDir() {
			cmd.Dir = wd
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Background children holding stdout open must not keep the container alive.
	cmd.WaitDelay = time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p.cmd = cmd
	go p.collect(pr)
	start := func() error { return cmd.Start() }
	if r.StartProcess != nil {
		start = func() error { return r.StartProcess(pod, cmd) }
	}
	if err := start(); err != nil {
		p.add("exec: " + err.Error())
		_ = pw.Close()
		<-p.collected
		p.finish(128) // containerd's StartError
		return
	}
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		<-p.collected
		code := int32(0)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int32(ws.Signal())
			} else {
				code = int32(ee.ExitCode())
			}
		} else if err != nil {
			code = 128
		}
		p.finish(code)
	}()
}

func (p *proc) collect(r io.Reader) {
	defer close(p.collected)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		p.add(sc.Text())
	}
}

func (p *proc) add(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, sim.LogEntry{Time: time.Now(), Text: line})
	if len(p.lines) > MaxLogLines {
		p.lines = p.lines[len(p.lines)-MaxLogLines:]
	}
}

func (p *proc) finish(code int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return
	}
	p.exited, p.code, p.at = true, code, time.Now()
	if p.killer != nil {
		p.killer.Stop()
	}
	close(p.done)
}

// trimLocked forgets the oldest exited incarnations beyond MaxExited.
func (r *Runtime) trimLocked() {
	var exited []*proc
	for _, p := range r.procs {
		p.mu.Lock()
		if p.exited {
			exited = append(exited, p)
		}
		p.mu.Unlock()
	}
	if len(exited) <= MaxExited {
		return
	}
	sort.Slice(exited, func(a, b int) bool { return exited[a].at.Before(exited[b].at) })
	for _, p := range exited[:len(exited)-MaxExited] {
		delete(r.procs, p.id)
		for uid, list := range r.byPod {
			for i, q := range list {
				if q == p {
					r.byPod[uid] = append(list[:i], list[i+1:]...)
					break
				}
			}
			if len(r.byPod[uid]) == 0 {
				delete(r.byPod, uid)
			}
		}
	}
}

// Exited reports whether incarnation id has exited, with its exit code and
// time; known is false for an id this runtime never started.
func (r *Runtime) Exited(id string) (code int32, at time.Time, exited, known bool) {
	r.mu.Lock()
	p, ok := r.procs[id]
	r.mu.Unlock()
	if !ok {
		return 0, time.Time{}, false, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code, p.at, p.exited, true
}

// Stop sends SIGTERM to the process groups of the pod's running containers and
// SIGKILL to what is left after grace.
func (r *Runtime) Stop(podUID string, grace time.Duration) {
	r.mu.Lock()
	procs := append([]*proc(nil), r.byPod[podUID]...)
	r.mu.Unlock()
	for _, p := range procs {
		p.mu.Lock()
		if !p.exited && p.cmd != nil && p.cmd.Process != nil && p.killer == nil {
			pgid := p.cmd.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			p.killer = time.AfterFunc(grace, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
		}
		p.mu.Unlock()
	}
}

// Close kills every process group at once (the node service is stopping).
func (r *Runtime) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		p.mu.Lock()
		if !p.exited && p.cmd != nil && p.cmd.Process != nil {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
		p.mu.Unlock()
	}
}

// Log is the log of a container's current (or previous) incarnation; ok is
// false when this runtime did not run it.
func (r *Runtime) Log(pod *corev1.Pod, container string, previous bool) ([]sim.LogEntry, bool, bool) {
	var id string
	for _, cs := range pod.GetStatus().GetContainerStatuses() {
		if cs.GetName() != container {
			continue
		}
		switch {
		case previous:
			id = cs.GetLastState().GetTerminated().GetContainerId()
		case cs.GetState().GetRunning() != nil || cs.GetState().GetTerminated() != nil:
			id = cs.GetContainerId()
		default:
			id = cs.GetLastState().GetTerminated().GetContainerId()
		}
	}
	r.mu.Lock()
	p, ok := r.procs[id]
	r.mu.Unlock()
	if id == "" || !ok {
		return nil, false, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sim.LogEntry(nil), p.lines...), !p.exited, true
}

// podEnv is the container's environment as the kubelet builds it (HOSTNAME,
// the kubernetes Service's variables, env values and fieldRefs), with the
// machine's PATH and its temporary directory as HOME.
func podEnv(pod *corev1.Pod, c *corev1.Container) []string {
	return streams.ProcessEnv(pod, c, ipam.KubernetesServiceIP)
}
