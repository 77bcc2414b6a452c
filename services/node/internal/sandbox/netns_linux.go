//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// onThread runs fn on an OS thread of its own that is thrown away afterwards:
// fn may change the thread's namespaces (setns, unshare), and the goroutine
// ends locked, so Go ends the thread instead of reusing it. New threads are
// not cloned from a locked one (Go's template thread makes them), so nothing
// else ever runs in those namespaces.
func onThread(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ch <- fn()
	}()
	return <-ch
}

// createNetns makes a new network namespace and pins it at path (a bind mount
// of its nsfs file, as `ip netns add` does).
func createNetns(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file: %w", err)
	}
	f.Close()
	err = onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare net: %w", err)
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pin netns at %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// deleteNetns unpins a network namespace: it is gone once no process and no
// open file holds it.
func deleteNetns(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unpin netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// inNetns runs fn in the network namespace pinned at path, on a thread of its
// own: sockets fn opens belong to that namespace and stay there.
func inNetns(path string, fn func() error) error {
	return onThread(func() error {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open netns %s: %w", path, err)
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter netns %s: %w", path, err)
		}
		return fn()
	})
}

// writeSysctl writes a /proc/sys value in the network namespace at path.
func writeSysctl(path, key, value string) error {
	return inNetns(path, func() error {
		return os.WriteFile("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(value), 0o644)
	})
}

// nsInode is the inode of the namespace pinned at path (0 when none).
func nsInode(path string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0
	}
	return st.Ino
}

// killInNetns kills every process whose network namespace is the one pinned at
// path (processes a killed node service left running in a pod).
func killInNetns(path string) {
	ino := nsInode(path)
	if ino == 0 {
		return
	}
	want := fmt.Sprintf("net:[%d]", ino)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/net")); err == nil && l == want {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// isMountPoint reports whether dir is the root of a mount.
func isMountPoint(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMount(f[4]) == dir {
			return true
		}
	}
	return false
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}
