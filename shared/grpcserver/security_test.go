package grpcserver

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/podwarden/podwarden/shared/pki"
)

// serve starts a server with sec on a loopback port and returns its address.
func serve(t *testing.T, sec Security) string {
	t.Helper()
	s, err := NewSecure(slog.New(slog.DiscardHandler), sec)
	if err != nil {
		t.Fatalf("NewSecure: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

// calls makes a health check (public when configured) and a reflection call,
// and returns their codes.
func calls(t *testing.T, addr string, sec Security) (health, reflection codes.Code) {
	t.Helper()
	opts, err := sec.DialOptions()
	if err != nil {
		t.Fatalf("DialOptions: %v", err)
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	health = status.Code(err)
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err == nil {
		// A refused stream fails Send with io.EOF; Recv has its status.
		_ = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		_, err = stream.Recv()
	}
	return health, status.Code(err)
}

func TestTokenAuthentication(t *testing.T) {
	addr := serve(t, Security{Token: "s3cret", Public: []string{PublicHealth}})
	for name, tc := range map[string]struct {
		client                 Security
		wantHealth, wantReflex codes.Code
	}{
		"no token: health only": {client: Security{}, wantHealth: codes.OK, wantReflex: codes.Unauthenticated},
		"wrong token":           {client: Security{Token: "guess"}, wantHealth: codes.OK, wantReflex: codes.Unauthenticated},
		"the token":             {client: Security{Token: "s3cret"}, wantHealth: codes.OK, wantReflex: codes.OK},
	} {
		t.Run(name, func(t *testing.T) {
			h, r := calls(t, addr, tc.client)
			if h != tc.wantHealth || r != tc.wantReflex {
				t.Fatalf("health %s, reflection %s; want %s, %s", h, r, tc.wantHealth, tc.wantReflex)
			}
		})
	}
	t.Run("nothing public", func(t *testing.T) {
		addr := serve(t, Security{Token: "s3cret"})
		if h, _ := calls(t, addr, Security{}); h != codes.Unauthenticated {
			t.Fatalf("health without token: %s, want Unauthenticated", h)
		}
	})
	t.Run("reflection public", func(t *testing.T) {
		addr := serve(t, Security{Token: "s3cret", Public: []string{PublicHealth, PublicReflection}})
		if h, r := calls(t, addr, Security{}); h != codes.OK || r != codes.OK {
			t.Fatalf("health %s, reflection %s without token; want OK, OK", h, r)
		}
	})
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("services")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := ca.Write(caFile, filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	issue := func(ca *pki.CA, name string) (string, string) {
		p, err := ca.Issue(pki.LocalServer(name))
		if err != nil {
			t.Fatal(err)
		}
		cert, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		if err := p.Write(cert, key); err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	srvCert, srvKey := issue(ca, "deployment")
	cliCert, cliKey := issue(ca, "gateway")
	other, err := pki.NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	badCert, badKey := issue(other, "mallory")

	addr := serve(t, Security{CertFile: srvCert, KeyFile: srvKey, CAFile: caFile, Public: []string{PublicHealth}})
	for name, tc := range map[string]struct {
		client                 Security
		wantHealth, wantReflex codes.Code
	}{
		"client certificate":      {client: Security{CertFile: cliCert, KeyFile: cliKey, CAFile: caFile}, wantHealth: codes.OK, wantReflex: codes.OK},
		"TLS without certificate": {client: Security{CAFile: caFile}, wantHealth: codes.OK, wantReflex: codes.Unauthenticated},
		"plaintext":               {client: Security{}, wantHealth: codes.Unavailable, wantReflex: codes.Unavailable},
		// Go's client sends no certificate that the server's CAs did not sign.
		"certificate of another CA": {client: Security{CertFile: badCert, KeyFile: badKey, CAFile: caFile}, wantHealth: codes.OK, wantReflex: codes.Unauthenticated},
	} {
		t.Run(name, func(t *testing.T) {
			h, r := calls(t, addr, tc.client)
			if h != tc.wantHealth || r != tc.wantReflex {
				t.Fatalf("health %s, reflection %s; want %s, %s", h, r, tc.wantHealth, tc.wantReflex)
			}
		})
	}
	t.Run("token or certificate", func(t *testing.T) {
		addr := serve(t, Security{CertFile: srvCert, KeyFile: srvKey, CAFile: caFile, Token: "s3cret"})
		if _, r := calls(t, addr, Security{CAFile: caFile, Token: "s3cret"}); r != codes.OK {
			t.Fatalf("TLS with the token: %s, want OK", r)
		}
		if _, r := calls(t, addr, Security{CertFile: cliCert, KeyFile: cliKey, CAFile: caFile}); r != codes.OK {
			t.Fatalf("client certificate: %s, want OK", r)
		}
	})
}

func TestValidateListen(t *testing.T) {
	for name, tc := range map[string]struct {
		sec     Security
		addr    string
		wantErr bool
	}{
		"loopback, nothing":        {addr: "127.0.0.1:9101"},
		"localhost, nothing":       {addr: "localhost:9101"},
		"everywhere, nothing":      {addr: "0.0.0.0:9101", wantErr: true},
		"no host, nothing":         {addr: ":9101", wantErr: true},
		"everywhere, token":        {sec: Security{Token: "t"}, addr: "0.0.0.0:9101"},
		"everywhere, token file":   {sec: Security{TokenFile: "f"}, addr: "0.0.0.0:9101"},
		"everywhere, mTLS":         {sec: Security{CertFile: "c", KeyFile: "k", CAFile: "ca"}, addr: "0.0.0.0:9101"},
		"everywhere, TLS, no auth": {sec: Security{CertFile: "c", KeyFile: "k"}, addr: "0.0.0.0:9101", wantErr: true},
		"everywhere, allowed":      {sec: Security{AllowUnauthenticated: true}, addr: "0.0.0.0:9101"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.sec.ValidateListen(tc.addr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "refusing to serve it without authentication") {
				t.Errorf("unclear error: %v", err)
			}
		})
	}
}

func TestSecurityFromEnv(t *testing.T) {
	t.Setenv(EnvToken, "tok")
	t.Setenv(EnvCAFile, "/ca.crt")
	t.Setenv(EnvAllowUnauthenticated, "true")
	s := SecurityFromEnv()
	if s.Token != "tok" || s.CAFile != "/ca.crt" || !s.AllowUnauthenticated || !slices.Equal(s.Public, DefaultPublic) {
		t.Fatalf("from env: %+v", s)
	}
	t.Setenv(EnvPublic, "health, reflection")
	if got := SecurityFromEnv().Public; !slices.Equal(got, []string{PublicHealth, PublicReflection}) {
		t.Fatalf("public %v", got)
	}
	t.Setenv(EnvPublic, "none")
	if got := SecurityFromEnv().Public; len(got) != 0 {
		t.Fatalf("public %v, want none", got)
	}
	for name, sec := range map[string]Security{
		"unknown public":     {Public: []string{"metrics"}},
		"cert without key":   {CertFile: "c"},
		"token and its file": {Token: "t", TokenFile: "f"},
	} {
		if err := sec.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
