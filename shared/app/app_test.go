package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/shared/grpcserver"
)

func TestDefaultMetricsAddr(t *testing.T) {
	for name, tc := range map[string]struct {
		grpc, want string
	}{
		"loopback":  {grpc: "127.0.0.1:9101", want: "127.0.0.1:9201"},
		"any host":  {grpc: ":9106", want: ":9206"},
		"ipv6":      {grpc: "[::1]:9102", want: "[::1]:9202"},
		"no port":   {grpc: "localhost", want: ""},
		"named":     {grpc: "localhost:grpc", want: ""},
		"too large": {grpc: "127.0.0.1:65500", want: ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := DefaultMetricsAddr(tc.grpc); got != tc.want {
				t.Fatalf("DefaultMetricsAddr(%q) = %q, want %q", tc.grpc, got, tc.want)
			}
		})
	}
}

func TestValidateMetricsAddr(t *testing.T) {
	base := Config{PostgresDSN: "postgres://x", NATSURL: "nats://x", GRPCAddr: "127.0.0.1:9101"}
	for name, tc := range map[string]struct {
		addr    string
		wantErr string
	}{
		"default": {addr: "127.0.0.1:9201"},
		"off":     {addr: "off"},
		"empty":   {addr: ""},
		"no port": {addr: "127.0.0.1", wantErr: `metrics address "127.0.0.1" (PODWARDEN_METRICS_ADDR)`},
	} {
		t.Run(name, func(t *testing.T) {
			c := base
			c.MetricsAddr = tc.addr
			err := c.Validate()
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate: %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestValidateGRPCListen: a service refuses a non-loopback gRPC address
// without authentication (a token or mutual TLS), unless told the network is private.
func TestValidateGRPCListen(t *testing.T) {
	base := Config{PostgresDSN: "postgres://x", NATSURL: "nats://x"}
	for name, tc := range map[string]struct {
		addr    string
		sec     grpcserver.Security
		wantErr string
	}{
		"loopback":            {addr: "127.0.0.1:9101"},
		"everywhere":          {addr: "0.0.0.0:9101", wantErr: "gRPC address 0.0.0.0:9101 is not loopback: refusing to serve it without authentication"},
		"everywhere, token":   {addr: "0.0.0.0:9101", sec: grpcserver.Security{Token: "t"}},
		"everywhere, private": {addr: ":9101", sec: grpcserver.Security{AllowUnauthenticated: true}},
	} {
		t.Run(name, func(t *testing.T) {
			c := base
			c.GRPCAddr, c.GRPCSecurity = tc.addr, tc.sec
			err := c.Validate()
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate: %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestRetryFor: a step that fails a few times at start (NATS catching up) is tried
// again until it succeeds; one that keeps failing gives up after the timeout with its
// last error; a cancelled context stops at once.
func TestRetryFor(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	failing := func(n int) (func(context.Context) error, *int) {
		calls := 0
		return func(context.Context) error {
			calls++
			if calls <= n {
				return errors.New("context deadline exceeded")
			}
			return nil
		}, &calls
	}
	f, calls := failing(2)
	if err := retryFor(context.Background(), log, "x", time.Second, time.Millisecond, f); err != nil || *calls != 3 {
		t.Errorf("fails twice: err %v after %d calls, want nil after 3", err, *calls)
	}
	f, calls = failing(1 << 30)
	start := time.Now()
	if err := retryFor(context.Background(), log, "x", 50*time.Millisecond, 10*time.Millisecond, f); err == nil || *calls < 2 || time.Since(start) > time.Second {
		t.Errorf("always fails: err %v after %d calls in %v, want the error after a few calls", err, *calls, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f, calls = failing(1 << 30)
	if err := retryFor(ctx, log, "x", time.Minute, time.Second, f); err == nil || *calls != 1 {
		t.Errorf("cancelled: err %v after %d calls, want the error after 1", err, *calls)
	}
}
