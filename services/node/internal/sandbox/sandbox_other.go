//go:build !linux

package sandbox

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"time"
)

// Network is unavailable off Linux.
type Network struct{}

// Sandbox is unavailable off Linux.
type Sandbox struct{ Pod Pod }

// Open always fails off Linux.
func Open(Config) (*Network, error) { return nil, Available() }

func (*Network) Close()                                                 {}
func (*Network) Ensure(Pod, func(*Sandbox) error) (*Sandbox, error)     { return nil, Available() }
func (*Network) ListenPodnet(string) (net.Listener, error)              { return nil, Available() }
func (*Sandbox) AddCloser(io.Closer)                                    {}
func (*Network) Remove(string)                                          {}
func (*Network) Get(string) *Sandbox                                    { return nil }
func (*Network) UIDs() []string                                         { return nil }
func (*Network) HostLink() string                                       { return "" }
func (*Network) Routed() []netip.Prefix                                 { return nil }
func (*Network) Collect(context.Context, time.Duration, func(Pod) bool) {}
func (*Network) ListenDNS() (net.PacketConn, net.Listener, error)       { return nil, nil, Available() }
func (*Network) SetServices([]ServicePort) error                        { return Available() }
func (*Sandbox) Start(*exec.Cmd) error                                  { return Available() }
func (*Sandbox) Dial(context.Context, string) (net.Conn, error)         { return nil, Available() }
func (*Sandbox) Listen(string) (net.Listener, error)                    { return nil, Available() }

// CleanStale has nothing to clean off Linux.
func CleanStale(string, *slog.Logger) {}

// Usage is unavailable off Linux.
func (*Sandbox) Usage() (cpuNanos, memBytes uint64, ok bool) { return 0, 0, false }
