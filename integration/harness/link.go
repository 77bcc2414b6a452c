package harness

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Link is a TCP proxy on loopback between one service process and one upstream (the
// Postgres server, a NATS server): the process is given the link's address instead of
// the upstream's, so the harness can cut that process's connection alone (Cut: every
// open connection is closed and new ones are closed as soon as they are accepted, as
// a peer that resets them) and restore it (Restore), while the process runs on.
type Link struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewLink listens on 127.0.0.1:0 and forwards every connection to upstream.
func NewLink(upstream string) (*Link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &Link{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.serve()
	return l, nil
}

// Addr is where the link listens ("127.0.0.1:port").
func (l *Link) Addr() string { return l.ln.Addr().String() }

// Upstream is where the link forwards to.
func (l *Link) Upstream() string { return l.upstream }

// Cut closes every connection through the link and refuses new ones until Restore.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = true
	for c := range l.conns {
		_ = c.Close()
	}
}

// Restore lets connections through again.
func (l *Link) Restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = false
}

// IsCut reports whether the link is cut.
func (l *Link) IsCut() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cut
}

// Close stops the link and closes its connections.
func (l *Link) Close() {
	_ = l.ln.Close()
	l.Cut()
	l.wg.Wait()
}

func (l *Link) serve() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.forward(c)
		}()
	}
}

// track registers conns as open, unless the link is cut (then it closes them).
func (l *Link) track(conns ...net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		l.conns[c] = struct{}{}
	}
	return true
}

func (l *Link) untrack(conns ...net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range conns {
		delete(l.conns, c)
		_ = c.Close()
	}
}

func (l *Link) forward(c net.Conn) {
	if !l.track(c) {
		return
	}
	up, err := net.DialTimeout("tcp", l.upstream, 5*time.Second)
	if err != nil {
		l.untrack(c)
		return
	}
	if !l.track(up) {
		l.untrack(c)
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done // one side ended: end both (the other copy returns on the closed conns)
	l.untrack(c, up)
	<-done
}
