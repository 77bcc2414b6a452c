//go:build linux

package sandbox

import (
	"errors"

	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// cgroups are where a node service puts its sandboxes' processes, one group per
// pod, for their CPU and memory usage: cgroup v2 (the unified hierarchy at
// /sys/fs/cgroup, with the cpu and memory controllers), else v1's cpuacct and
// memory hierarchies. root is "" when neither is usable (no usage then).
type cgroups struct {
	v2   bool
	cpu  string // v2: the instance's group; v1: its group in cpuacct
	mem  string // v1: its group in memory
	name string
}

const cgroupFS = "/sys/fs/cgroup"

// openCgroups makes the instance's groups, "podwarden-<id>".
func openCgroups(id string) *cgroups {
	name := "podwarden-" + id
	if b, err := os.ReadFile(filepath.Join(cgroupFS, "cgroup.controllers")); err == nil {
		if !strings.Contains(string(b), "cpu") || !strings.Contains(string(b), "memory") {
			return nil
		}
		g := &cgroups{v2: true, cpu: filepath.Join(cgroupFS, name), name: name}
		if os.MkdirAll(g.cpu, 0o755) != nil {
			return nil
		}
		_ = os.WriteFile(filepath.Join(g.cpu, "cgroup.subtree_control"), []byte("+cpu +memory"), 0o644)
		return g
	}
	g := &cgroups{cpu: filepath.Join(cgroupFS, "cpuacct", name), mem: filepath.Join(cgroupFS, "memory", name), name: name}
	if os.MkdirAll(g.cpu, 0o755) != nil || os.MkdirAll(g.mem, 0o755) != nil {
		return nil
	}
	return g
}

// dirs are the pod's groups.
func (g *cgroups) dirs(uid string) []string {
	if g.v2 {
		return []string{filepath.Join(g.cpu, uid)}
	}
	return []string{filepath.Join(g.cpu, uid), filepath.Join(g.mem, uid)}
}

func (g *cgroups) make(uid string) error {
	for _, d := range g.dirs(uid) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// enter puts the calling thread's future children in the pod's groups: v1
// moves the thread itself (a forked child inherits its groups), v2 asks
// clone3 to start cmd in the group.
func (g *cgroups) enter(uid string, cmd *exec.Cmd) (closeFD func(), err error) {
	if g.v2 {
		fd, err := unix.Open(g.dirs(uid)[0], unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
		return func() { unix.Close(fd) }, nil
	}
	tid := []byte(strconv.Itoa(unix.Gettid()))
	for _, d := range g.dirs(uid) {
		if err := os.WriteFile(filepath.Join(d, "tasks"), tid, 0o644); err != nil {
			return nil, err
		}
	}
	return func() {}, nil
}

// usage is the pod's CPU time (ns) and memory (bytes) so far.
func (g *cgroups) usage(uid string) (cpuNanos, memBytes uint64, err error) {
	d := g.dirs(uid)
	if g.v2 {
		b, err := os.ReadFile(filepath.Join(d[0], "cpu.stat"))
		if err != nil {
			return 0, 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				us, _ := strconv.ParseUint(v, 10, 64)
				cpuNanos = us * 1000
			}
		}
		memBytes, err = readUint(filepath.Join(d[0], "memory.current"))
		return cpuNanos, memBytes, err
	}
	if cpuNanos, err = readUint(filepath.Join(d[0], "cpuacct.usage")); err != nil {
		return 0, 0, err
	}
	memBytes, err = readUint(filepath.Join(d[1], "memory.usage_in_bytes"))
	return cpuNanos, memBytes, err
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// remove kills what is left in the pod's groups and removes them.
func (g *cgroups) remove(uid string) {
	for _, d := range g.dirs(uid) {
		removeGroup(d)
	}
}

// removeGroup kills the processes of a group (and its children's) and removes it.
func removeGroup(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeGroup(filepath.Join(dir, e.Name()))
		}
	}
	for range 50 {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		pids := strings.Fields(string(b))
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		if len(pids) == 0 && !errors.Is(err, unix.EBUSY) {
			return
		}
		unixSleep()
	}
}

// close removes the instance's groups.
func (g *cgroups) close() {
	removeGroup(g.cpu)
	if g.mem != "" {
		removeGroup(g.mem)
	}
}

// cleanStaleCgroups removes the groups of instances no node service holds.
func cleanStaleCgroups(id string) {
	name := "podwarden-" + id
	for _, d := range []string{filepath.Join(cgroupFS, name), filepath.Join(cgroupFS, "cpuacct", name), filepath.Join(cgroupFS, "memory", name)} {
		if _, err := os.Stat(d); err == nil {
			removeGroup(d)
		}
	}
}

func unixSleep() { _ = unix.Nanosleep(&unix.Timespec{Nsec: 20e6}, nil) }
