//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
)

// envPrivate marks the test binary re-run in a network namespace of its own.
const envPrivate = "PODWARDEN_SANDBOX_TEST_PRIVATE_NETNS"

// TestMain re-runs the tests in a fresh network namespace (no route at all, not
// even a default one) when it can, so that nothing they do reaches the
// machine's network; without the capabilities the tests that need them skip.
func TestMain(m *testing.M) {
	if os.Getenv(envPrivate) == "" && Available() == nil {
		cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
		cmd.Env = append(os.Environ(), envPrivate+"=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			os.Exit(0)
		case errors.As(err, &ee):
			os.Exit(ee.ExitCode())
		}
		// No network namespace to be had (a container without the capability):
		// run here, where the tests that need one skip.
		fmt.Fprintln(os.Stderr, "no private network namespace:", err)
	}
	if os.Getenv(envPrivate) != "" {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loopback:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// needPrivate skips a test that changes the network unless it runs in the
// private network namespace TestMain made.
func needPrivate(t *testing.T) {
	t.Helper()
	if os.Getenv(envPrivate) == "" {
		t.Skipf("skipped: pod sandboxes are unavailable here (%v)", Available())
	}
}
