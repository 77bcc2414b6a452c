// Package grpcserver builds the gRPC server every service runs: server reflection
// and grpc.health.v1 (so grpcurl and Kubernetes probes work with no .proto at hand),
// and logging and panic-recovery interceptors.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// Server is a gRPC server with its health service.
type Server struct {
	GRPC   *grpc.Server
	Health *health.Server
	log    *slog.Logger
}

// New returns a server with reflection, health (SERVING for "" once Serve runs),
// and the interceptors, in plaintext with no authentication.
func New(log *slog.Logger) *Server {
	s, err := NewSecure(log, Security{})
	if err != nil {
		panic(err) // the zero Security reads no file and cannot fail
	}
	return s
}

// NewSecure is New with sec's TLS and authentication.
func NewSecure(log *slog.Logger, sec Security) (*Server, error) {
	secOpts, err := sec.serverOptions()
	if err != nil {
		return nil, err
	}
	opts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(recoverUnary(log), logUnary(log)),
		grpc.ChainStreamInterceptor(recoverStream(log)),
		grpc.MaxRecvMsgSize(8 << 20),
	}, secOpts...)
	s := grpc.NewServer(opts...)
	h := health.NewServer()
	healthpb.RegisterHealthServer(s, h)
	reflection.Register(s)
	return &Server{GRPC: s, Health: h, log: log}, nil
}

// Serve listens on addr and serves until ctx ends, then stops gracefully.
func (s *Server) Serve(ctx context.Context, addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return s.ServeListener(ctx, lis)
}

// ServeListener serves on lis until ctx ends.
func (s *Server) ServeListener(ctx context.Context, lis net.Listener) error {
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	errc := make(chan error, 1)
	go func() { errc <- s.GRPC.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Health.Shutdown()
	stopped := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(3 * time.Second):
		s.GRPC.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Errorf(codes.Internal, "internal error: %v", r)
			}
		}()
		return handler(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in stream handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Errorf(codes.Internal, "internal error: %v", r)
			}
		}()
		return handler(srv, ss)
	}
}

func logUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		code := status.Code(err)
		lvl := slog.LevelDebug
		if code == codes.Internal || code == codes.Unknown {
			lvl = slog.LevelError
		}
		log.Log(ctx, lvl, "rpc", "method", info.FullMethod, "code", code.String(), "duration", time.Since(start), "err", err)
		return resp, err
	}
}
