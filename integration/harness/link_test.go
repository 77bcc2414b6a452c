package harness

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through c and reads the answer.
func roundTrip(c net.Conn, r *bufio.Reader) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := r.ReadString('\n')
	return err
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// TestLinkCutAndRestore: a link forwards, a cut ends the open connection and refuses
// new ones (they are closed at once), a restore lets new ones through.
func TestLinkCutAndRestore(t *testing.T) {
	l, err := NewLink(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, r := dial(t, l.Addr())
	if err := roundTrip(c, r); err != nil {
		t.Fatalf("through the link: %v", err)
	}
	l.Cut()
	if !l.IsCut() {
		t.Fatal("IsCut false after Cut")
	}
	if err := roundTrip(c, r); err == nil {
		t.Fatal("the open connection still answers after Cut")
	}
	c2, r2 := dial(t, l.Addr()) // accepted by the kernel, closed by the link
	if err := roundTrip(c2, r2); err == nil {
		t.Fatal("a new connection answers while the link is cut")
	}
	l.Restore()
	c3, r3 := dial(t, l.Addr())
	if err := roundTrip(c3, r3); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}
