package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestTargetsFromEnv(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		want    targets
		wantErr string
	}{
		"grpc service on all interfaces": {
			env:  map[string]string{"PODWARDEN_GRPC_ADDR": "0.0.0.0:9101"},
			want: targets{GRPC: "127.0.0.1:9101"},
		},
		"gateway with empty host": {
			env:  map[string]string{"PODWARDEN_HTTP_ADDR": ":8080"},
			want: targets{HTTP: "http://127.0.0.1:8080/healthz"},
		},
		"ipv6 wildcard": {
			env:  map[string]string{"PODWARDEN_GRPC_ADDR": "[::]:9106"},
			want: targets{GRPC: "[::1]:9106"},
		},
		"explicit host kept, both targets": {
			env:  map[string]string{"PODWARDEN_GRPC_ADDR": "10.0.0.5:9101", "PODWARDEN_HTTP_ADDR": "127.0.0.1:8080"},
			want: targets{GRPC: "10.0.0.5:9101", HTTP: "http://127.0.0.1:8080/healthz"},
		},
		"nothing set": {
			env:     map[string]string{},
			wantErr: "nothing to check",
		},
		"missing port": {
			env:     map[string]string{"PODWARDEN_GRPC_ADDR": "0.0.0.0"},
			wantErr: "PODWARDEN_GRPC_ADDR",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := targetsFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tc.want {
				t.Errorf("targets = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	healthSrv := health.NewServer()
	grpcAddr := serveGRPC(t, healthSrv)
	okURL := serveHTTP(t, http.StatusOK)
	downURL := serveHTTP(t, http.StatusServiceUnavailable)

	tests := map[string]struct {
		status  healthpb.HealthCheckResponse_ServingStatus
		targets targets
		wantErr string
	}{
		"grpc serving": {
			status:  healthpb.HealthCheckResponse_SERVING,
			targets: targets{GRPC: grpcAddr},
		},
		"grpc not serving": {
			status:  healthpb.HealthCheckResponse_NOT_SERVING,
			targets: targets{GRPC: grpcAddr},
			wantErr: "NOT_SERVING",
		},
		"http ok": {
			status:  healthpb.HealthCheckResponse_SERVING,
			targets: targets{HTTP: okURL},
		},
		"http unavailable": {
			status:  healthpb.HealthCheckResponse_SERVING,
			targets: targets{GRPC: grpcAddr, HTTP: downURL},
			wantErr: "503",
		},
		"nothing listening": {
			status:  healthpb.HealthCheckResponse_SERVING,
			targets: targets{GRPC: closedAddr(t)},
			wantErr: "grpc",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			healthSrv.SetServingStatus("", tc.status)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := tc.targets.check(ctx)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func serveGRPC(t *testing.T, h *health.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, h)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func serveHTTP(t *testing.T, code int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/healthz"
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
