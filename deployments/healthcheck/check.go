package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/podwarden/podwarden/shared/grpcserver"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// targets is what one health check probes; an empty field is skipped.
type targets struct {
	GRPC string // host:port serving grpc.health.v1
	HTTP string // URL answering 2xx when healthy
}

func (t targets) empty() bool { return t.GRPC == "" && t.HTTP == "" }

// targetsFromEnv maps a service's listen addresses to the addresses to probe.
func targetsFromEnv(getenv func(string) string) (targets, error) {
	var t targets
	if a := getenv("PODWARDEN_GRPC_ADDR"); a != "" {
		addr, err := probeAddr(a)
		if err != nil {
			return targets{}, fmt.Errorf("PODWARDEN_GRPC_ADDR: %w", err)
		}
		t.GRPC = addr
	}
	if a := getenv("PODWARDEN_HTTP_ADDR"); a != "" {
		addr, err := probeAddr(a)
		if err != nil {
			return targets{}, fmt.Errorf("PODWARDEN_HTTP_ADDR: %w", err)
		}
		t.HTTP = "http://" + addr + "/healthz"
	}
	if t.empty() {
		return targets{}, errors.New("nothing to check: pass -grpc or -http, or set PODWARDEN_GRPC_ADDR or PODWARDEN_HTTP_ADDR")
	}
	return t, nil
}

// probeAddr turns a listen address into a dialable one: a wildcard or empty
// host becomes loopback.
func probeAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if port == "" {
		return "", fmt.Errorf("%q: missing port", listen)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

func (t targets) check(ctx context.Context) error {
	var errs []error
	if t.GRPC != "" {
		if err := checkGRPC(ctx, t.GRPC); err != nil {
			errs = append(errs, fmt.Errorf("grpc %s: %w", t.GRPC, err))
		}
	}
	if t.HTTP != "" {
		if err := checkHTTP(ctx, t.HTTP); err != nil {
			errs = append(errs, fmt.Errorf("http %s: %w", t.HTTP, err))
		}
	}
	return errors.Join(errs...)
}

// checkGRPC asks for the server's overall health (service ""), with the
// service's own credentials (PODWARDEN_GRPC_*: TLS when it serves TLS).
func checkGRPC(ctx context.Context, addr string) error {
	opts, err := grpcserver.SecurityFromEnv().DialOptions()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("status %s", s)
	}
	return nil
}

func checkHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
