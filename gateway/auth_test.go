package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	"github.com/podwarden/podwarden/shared/grpcserver"
	"github.com/podwarden/podwarden/shared/pki"
)

func TestParseTokenFile(t *testing.T) {
	tests := map[string]struct {
		file    string
		want    map[string]UserInfo // by token
		wantErr string
	}{
		"groups quoted, uid, spaces": {
			file: "tok1,alice,uid-a,\"system:masters,dev\"\n tok2 , bob , uid-b\n",
			want: map[string]UserInfo{
				"tok1": {Name: "alice", UID: "uid-a", Groups: []string{"system:masters", "dev"}},
				"tok2": {Name: "bob", UID: "uid-b"},
			},
		},
		"empty token skipped": {
			file: ",nobody,1\ntok,carol,3,ops\n",
			want: map[string]UserInfo{"tok": {Name: "carol", UID: "3", Groups: []string{"ops"}}},
		},
		"too few columns":    {file: "tok,alice\n", wantErr: "line 1: must have at least 3 columns"},
		"token twice":        {file: "tok,a,1\ntok,b,2\n", wantErr: "line 2: the token of line 1 again"},
		"empty user":         {file: "tok,,1\n", wantErr: "line 1: empty user name"},
		"no token at all":    {file: "", wantErr: "no token"},
		"bad quoting":        {file: "tok,a,1,\"g1\n", wantErr: "extraneous or missing"},
		"empty groups field": {file: "tok,a,1,\n", want: map[string]UserInfo{"tok": {Name: "a", UID: "1"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ta, err := parseTokenFile(strings.NewReader(tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ta.entries) != len(tc.want) {
				t.Fatalf("%d entries, want %d", len(ta.entries), len(tc.want))
			}
			for token, want := range tc.want {
				got, ok := ta.authenticate(token)
				if !ok || got.Name != want.Name || got.UID != want.UID || !slices.Equal(got.Groups, want.Groups) {
					t.Errorf("token %q: %+v, %v; want %+v", token, got, ok, want)
				}
			}
			if _, ok := ta.authenticate("unknown"); ok {
				t.Error("an unknown token authenticated")
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer abc":   "abc",
		"bearer  abc ": "abc",
		"Basic abc":    "",
		"Bearer":       "",
		"":             "",
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", header)
		if got, _ := bearerToken(r); got != want {
			t.Errorf("%q: token %q, want %q", header, got, want)
		}
	}
}

func TestIsLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true,
		"127.0.0.2:8080": true,
		"[::1]:8080":     true,
		"localhost:8080": true,
		":8080":          false,
		"0.0.0.0:8080":   false,
		"[::]:8080":      false,
		"10.0.0.5:8080":  false,
		"example.com:80": false,
	} {
		if got := isLoopbackListen(addr); got != want {
			t.Errorf("%s: %v, want %v", addr, got, want)
		}
	}
}

func TestValidateSecurity(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		wantErr []string // each must be in the error; none: valid
	}{
		"default: loopback, no auth":  {cfg: Config{}},
		"loopback with TLS and token": {cfg: Config{TLSCertFile: "c", TLSKeyFile: "k", TokenAuthFile: "t"}},
		"token on plain loopback":     {cfg: Config{TokenAuthFile: "t"}},
		"all interfaces, no auth": {
			cfg:     Config{ListenAddr: ":8080"},
			wantErr: []string{"listen address :8080 is not loopback: refusing to serve it without authentication", "without TLS"},
		},
		"all interfaces, token, no TLS": {
			cfg:     Config{ListenAddr: "0.0.0.0:8080", TokenAuthFile: "t"},
			wantErr: []string{"refusing to serve it without TLS"},
		},
		"all interfaces, TLS, no auth": {
			cfg:     Config{ListenAddr: "0.0.0.0:8080", TLSCertFile: "c", TLSKeyFile: "k"},
			wantErr: []string{"without authentication"},
		},
		"all interfaces, TLS and client CA": {cfg: Config{ListenAddr: "0.0.0.0:8080", TLSCertFile: "c", TLSKeyFile: "k", ClientCAFile: "ca"}},
		"all interfaces, TLS and token":     {cfg: Config{ListenAddr: "10.1.2.3:443", TLSCertFile: "c", TLSKeyFile: "k", TokenAuthFile: "t"}},
		"cert without key":                  {cfg: Config{TLSCertFile: "c"}, wantErr: []string{"both a certificate file and a key file"}},
		"client CA without TLS":             {cfg: Config{ClientCAFile: "ca"}, wantErr: []string{"client certificates need TLS"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestRunRefusesNonLoopbackWithoutAuth: the gateway does not start (nor listen)
// on every interface without authentication.
func TestRunRefusesNonLoopbackWithoutAuth(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := Run(ctx, Config{ListenAddr: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "refusing to serve it without authentication") {
		t.Fatalf("Run: %v, want a refusal", err)
	}
}

// authFiles are the files of a gateway with TLS, client certificates and tokens.
type authFiles struct {
	dir                          string
	ca                           *pki.CA
	certFile, keyFile, caFile    string
	tokenFile                    string
	clientCertFile, clientKeyPEM string
	clientCert                   pki.Pair
	otherCA                      *pki.CA
}

func writeAuthFiles(t *testing.T) authFiles {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("podwarden-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	f := authFiles{dir: dir, ca: ca,
		certFile: filepath.Join(dir, "gateway.crt"), keyFile: filepath.Join(dir, "gateway.key"),
		caFile: filepath.Join(dir, "ca.crt"), tokenFile: filepath.Join(dir, "tokens.csv")}
	if err := os.WriteFile(f.caFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue(pki.LocalServer("gateway"))
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Write(f.certFile, f.keyFile); err != nil {
		t.Fatal(err)
	}
	if f.clientCert, err = ca.Issue(pki.Request{CommonName: "alice", Organizations: []string{"dev"}, Client: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.tokenFile, []byte("s3cret,bob,uid-bob,\"dev,ops\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f.otherCA, err = pki.NewCA("someone-else"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f authFiles) config() Config {
	return Config{TLSCertFile: f.certFile, TLSKeyFile: f.keyFile, ClientCAFile: f.caFile, TokenAuthFile: f.tokenFile}
}

// serveTLS serves e's handler with Serve (TLS and client certificates from cfg)
// and returns its https URL.
func serveTLS(t *testing.T, e *testEnv, cfg Config) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg.Logger = testLogger(t)
	go func() { done <- Serve(ctx, cfg, lis, e.handler) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "https://" + lis.Addr().String()
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// httpsClient trusts f's CA and presents cert when it is not nil (whatever
// CAs the server names as acceptable).
func httpsClient(t *testing.T, caPEM []byte, cert *pki.Pair) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		kp, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
}

func getWith(t *testing.T, c *http.Client, url, token string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{code: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{code: resp.StatusCode, header: resp.Header, body: b}
}

// TestAuthentication: over HTTPS, a request with a known token or a client
// certificate of the client CA is served; any other gets 401 with
// Kubernetes' Unauthorized Status; the probes stay open.
func TestAuthentication(t *testing.T) {
	f := writeAuthFiles(t)
	e := newEnv(t, func(ec *envConfig) {
		cfg := f.config()
		cfg.Logger = ec.cfg.Logger
		ec.cfg = cfg
	})
	url := serveTLS(t, e, f.config())
	const list = "/apis/apps/v1/namespaces/default/deployments"
	plain := httpsClient(t, f.ca.CertPEM, nil)
	withCert := httpsClient(t, f.ca.CertPEM, &f.clientCert)
	foreign, err := f.otherCA.Issue(pki.Request{CommonName: "mallory", Organizations: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	foreignCert := httpsClient(t, f.ca.CertPEM, &foreign)

	for name, tc := range map[string]struct {
		client   *http.Client
		path     string
		token    string
		wantCode int
	}{
		"token":                     {client: plain, path: list, token: "s3cret", wantCode: http.StatusOK},
		"client certificate":        {client: withCert, path: list, wantCode: http.StatusOK},
		"certificate, wrong token":  {client: withCert, path: list, token: "nope", wantCode: http.StatusOK},
		"no credentials":            {client: plain, path: list, wantCode: http.StatusUnauthorized},
		"unknown token":             {client: plain, path: list, token: "nope", wantCode: http.StatusUnauthorized},
		"discovery, no credentials": {client: plain, path: "/apis", wantCode: http.StatusUnauthorized},
		"metrics, no credentials":   {client: plain, path: "/metrics", wantCode: http.StatusUnauthorized},
		"healthz is public":         {client: plain, path: "/healthz", wantCode: http.StatusOK},
		"version is public":         {client: plain, path: "/version", wantCode: http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			r := getWith(t, tc.client, url+tc.path, tc.token)
			if tc.wantCode == http.StatusUnauthorized {
				s := r.wantStatus(t, http.StatusUnauthorized, ReasonUnauthorized)
				if s["message"] != "Unauthorized" {
					t.Errorf("message %v, want Unauthorized", s["message"])
				}
				return
			}
			r.wantCode(t, tc.wantCode)
		})
	}

	t.Run("certificate of another CA is refused by TLS", func(t *testing.T) {
		r := getWith(t, foreignCert, url+list, "")
		if r.code != -1 {
			t.Fatalf("status %d, want a TLS handshake failure", r.code)
		}
	})
	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		r := getWith(t, &http.Client{Timeout: 5 * time.Second}, strings.Replace(url, "https://", "http://", 1)+list, "s3cret")
		if r.code == http.StatusOK {
			t.Fatal("plain HTTP was served")
		}
	})
}

// TestAuthenticatedUser: the user of a token or a certificate reaches the handlers.
func TestAuthenticatedUser(t *testing.T) {
	ta, err := parseTokenFile(strings.NewReader("s3cret,bob,uid-bob,\"dev,ops\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{json: newJSONMarshaler(), log: testLogger(t)}
	var got UserInfo
	h := g.authenticate(&authenticator{tokens: ta}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = userFrom(r.Context())
		if r.Header.Get("Authorization") != "" {
			t.Error("the token reached the handler")
		}
	}))
	r, _ := http.NewRequest(http.MethodGet, "/api/v1/pods", nil)
	r.Header.Set("Authorization", "Bearer s3cret")
	h.ServeHTTP(&discardWriter{header: http.Header{}}, r)
	want := UserInfo{Name: "bob", UID: "uid-bob", Groups: []string{"dev", "ops", groupAuthenticated}}
	if got.Name != want.Name || got.UID != want.UID || !slices.Equal(got.Groups, want.Groups) {
		t.Fatalf("user %+v, want %+v", got, want)
	}
}

type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// TestKubectlAuthentication: the real kubectl reaches the gateway over HTTPS
// with a token in its kubeconfig and with a client certificate, and is told
// Unauthorized with neither.
func TestKubectlAuthentication(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	f := writeAuthFiles(t)
	e := newEnv(t, func(ec *envConfig) {
		cfg := f.config()
		cfg.Logger = ec.cfg.Logger
		ec.cfg = cfg
	})
	url := serveTLS(t, e, f.config())

	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	kubeconfig := func(name, user string) string {
		path := filepath.Join(f.dir, name+".kubeconfig")
		content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: podwarden
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
%s
contexts:
- name: podwarden
  context:
    cluster: podwarden
    user: %s
current-context: podwarden
`, url, b64(f.ca.CertPEM), name, user, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	token := kubeconfig("token", "    token: s3cret")
	cert := kubeconfig("cert", fmt.Sprintf("    client-certificate-data: %s\n    client-key-data: %s", b64(f.clientCert.CertPEM), b64(f.clientCert.KeyPEM)))
	wrong := kubeconfig("wrong", "    token: guessed")

	run := func(cfg string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", cfg}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(f.dir, "cache"), "HOME="+f.dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for name, cfg := range map[string]string{"token": token, "client certificate": cert} {
		t.Run(name, func(t *testing.T) {
			out, err := run(cfg, "create", "deployment", "web-"+strings.ReplaceAll(name, " ", "-"), "--image=nginx", "-n", "default")
			if err != nil {
				t.Fatalf("kubectl create: %v\n%s", err, out)
			}
			out, err = run(cfg, "get", "deployments", "-n", "default", "-o", "name")
			if err != nil {
				t.Fatalf("kubectl get: %v\n%s", err, out)
			}
			if want := "deployment.apps/web-" + strings.ReplaceAll(name, " ", "-"); !strings.Contains(out, want) {
				t.Fatalf("kubectl get: %q does not list %s", out, want)
			}
		})
	}
	// (kubectl with no credentials at all prompts for a user name: the
	// requests without credentials are TestAuthentication's.)
	for name, cfg := range map[string]string{"unknown token": wrong} {
		t.Run(name, func(t *testing.T) {
			out, err := run(cfg, "get", "deployments", "-n", "default")
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("kubectl get: %v, want a failure\n%s", err, out)
			}
			if !strings.Contains(out, "Unauthorized") {
				t.Fatalf("kubectl does not say Unauthorized: %s", out)
			}
		})
	}
}

// TestBackendToken: the gateway sends the services' shared token
// (BackendSecurity) on its calls; without it a service refuses them.
func TestBackendToken(t *testing.T) {
	sec := grpcserver.Security{Token: "svc-token", Public: grpcserver.DefaultPublic}
	srv, err := grpcserver.NewSecure(testLogger(t), sec)
	if err != nil {
		t.Fatal(err)
	}
	deploymentv1.RegisterDeploymentServiceServer(srv.GRPC, newFakeDeployments())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })

	for name, tc := range map[string]struct {
		sec      grpcserver.Security
		wantCode int
	}{
		"with the token": {sec: grpcserver.Security{Token: "svc-token"}, wantCode: http.StatusOK},
		"without":        {wantCode: http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := Config{DeploymentAddr: lis.Addr().String(), BackendSecurity: tc.sec, Logger: testLogger(t)}
			backends, closeAll, err := Dial(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = closeAll() })
			h, err := NewHandler(t.Context(), cfg, backends)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments", nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
		})
	}
}

// TestRequestLogNamesUser: the request log line says who sent the request.
func TestRequestLogNamesUser(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte("s3cret,bob,uid-bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	h, err := NewHandler(t.Context(), Config{TokenAuthFile: tokens, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, Backends{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/apis", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !strings.Contains(logs.String(), "user=bob") {
		t.Fatalf("log does not name the user: %s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
