package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// Server answers DNS queries over UDP and TCP from the current Index.
type Server struct {
	// Addr is "host:port"; port 0 picks a free port, the same for UDP and TCP.
	Addr string
	// PacketConn and Listener, when both set, are served instead of Addr.
	PacketConn net.PacketConn
	Listener   net.Listener
	// Index returns the index to answer from (nil: not loaded yet, SERVFAIL).
	Index func() *Index
	Log   *slog.Logger
}

// Listen binds the UDP and TCP sockets (unless given), so that the address is
// known and taken before Serve.
func (s *Server) Listen() error {
	if s.PacketConn != nil && s.Listener != nil {
		return nil
	}
	host, portStr, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("dns address %q: %w", s.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("dns address %q: bad port", s.Addr)
	}
	var lastErr error
	for range 10 { // port 0: UDP picks, TCP must get the same number
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("dns listen udp %s: %w", s.Addr, err)
		}
		got := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(got)))
		if err == nil {
			s.PacketConn, s.Listener = pc, l
			return nil
		}
		_ = pc.Close()
		lastErr = err
		if port != 0 {
			break
		}
	}
	return fmt.Errorf("dns listen tcp %s: %w", s.Addr, lastErr)
}

// LocalAddr is the UDP address served (after Listen).
func (s *Server) LocalAddr() string {
	if s.PacketConn == nil {
		return ""
	}
	return s.PacketConn.LocalAddr().String()
}

// Serve answers until ctx ends, then shuts both servers down.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	h := dns.HandlerFunc(s.serveDNS)
	udp := &dns.Server{PacketConn: s.PacketConn, Handler: h}
	tcp := &dns.Server{Listener: s.Listener, Handler: h, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- udp.ActivateAndServe() }()
	go func() { errc <- tcp.ActivateAndServe() }()
	log.Info("cluster dns listening", "addr", s.LocalAddr(), "zone", Zone)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = udp.ShutdownContext(sctx)
	_ = tcp.ShutdownContext(sctx)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("cluster dns: %w", err)
	}
	return nil
}

func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	var m *dns.Msg
	if idx := s.Index(); idx != nil {
		m = Answer(idx, req)
	} else {
		m = new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
	}
	opt := req.IsEdns0()
	if opt != nil {
		m.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
	}
	if _, isUDP := w.RemoteAddr().(*net.UDPAddr); isUDP {
		size := dns.MinMsgSize
		if opt != nil {
			size = int(max(opt.UDPSize(), dns.MinMsgSize))
		}
		m.Truncate(size)
	}
	m.Compress = true
	if err := w.WriteMsg(m); err != nil && !errors.Is(err, net.ErrClosed) && s.Log != nil {
		s.Log.Debug("dns write failed", "err", err)
	}
}
