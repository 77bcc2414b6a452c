package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// testEnv is the gateway in front of two in-process fake backends: "deployment"
// (DeploymentService) and "node" (PodService), each with an EventService and a
// grpc.health.v1 server, on bufconn listeners.
type testEnv struct {
	t            *testing.T
	deploy       *fakeDeployments
	pods         *fakePods
	deployEvents *fakeEvents
	nodeEvents   *fakeEvents
	deployHealth *health.Server
	nodeHealth   *health.Server
	srv          *httptest.Server
	handler      http.Handler // what srv serves, to serve it elsewhere too
}

type envConfig struct {
	cfg      Config
	nodeDown bool // the node backend's address answers nothing
	// core, when set, registers a core backend's services.
	core func(*grpc.Server)
}

func newEnv(t *testing.T, opts ...func(*envConfig)) *testEnv {
	t.Helper()
	ec := envConfig{cfg: Config{Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}}
	for _, o := range opts {
		o(&ec)
	}
	e := &testEnv{
		t:            t,
		deploy:       newFakeDeployments(),
		pods:         newFakePods(),
		deployEvents: &fakeEvents{},
		nodeEvents:   &fakeEvents{},
		deployHealth: health.NewServer(),
		nodeHealth:   health.NewServer(),
	}
	var backends Backends
	backends.Deployment = startBackend(t, func(s *grpc.Server) {
		deploymentv1.RegisterDeploymentServiceServer(s, e.deploy)
		corev1.RegisterEventServiceServer(s, e.deployEvents)
		healthpb.RegisterHealthServer(s, e.deployHealth)
	})
	if ec.nodeDown {
		backends.Node = deadBackend(t)
	} else {
		backends.Node = startBackend(t, func(s *grpc.Server) {
			nodev1.RegisterPodServiceServer(s, e.pods)
			corev1.RegisterEventServiceServer(s, e.nodeEvents)
			healthpb.RegisterHealthServer(s, e.nodeHealth)
		})
	}
	if ec.core != nil {
		backends.Core = startBackend(t, ec.core)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h, err := NewHandler(ctx, ec.cfg, backends)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	e.handler = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

func startBackend(t *testing.T, register func(*grpc.Server)) grpc.ClientConnInterface {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	register(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return dialBufconn(t, lis)
}

// deadBackend is a connection to a listener that accepts nothing.
func deadBackend(t *testing.T) grpc.ClientConnInterface {
	t.Helper()
	lis := bufconn.Listen(1 << 10)
	_ = lis.Close()
	return dialBufconn(t, lis)
}

func dialBufconn(t *testing.T, lis *bufconn.Listener) grpc.ClientConnInterface {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatalf("dial bufconn: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// result is an HTTP answer read in full.
type result struct {
	code   int
	header http.Header
	body   []byte
}

// do sends a request; headers are "Key: value" strings.
func (e *testEnv) do(method, path, body string, headers ...string) result {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read %s %s: %v", method, path, err)
	}
	return result{code: resp.StatusCode, header: resp.Header, body: b}
}

// object decodes a JSON answer into a generic map.
func (r result) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

// get walks a generic JSON value by keys and list indexes ("spec", "replicas").
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func (r result) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body: %s", r.code, code, r.body)
	}
}

// wantStatus checks a Kubernetes Status error body.
func (r result) wantStatus(t *testing.T, code int, reason string) map[string]any {
	t.Helper()
	r.wantCode(t, code)
	if ct := r.header.Get("Content-Type"); ct != mimeJSON {
		t.Errorf("Content-Type %q, want %q", ct, mimeJSON)
	}
	s := r.object(t)
	if s["kind"] != "Status" || s["apiVersion"] != "v1" || s["status"] != "Failure" {
		t.Errorf("not a Failure Status: %s", r.body)
	}
	if md, ok := s["metadata"].(map[string]any); !ok || len(md) != 0 {
		t.Errorf("metadata = %v, want {}", s["metadata"])
	}
	if s["reason"] != reason {
		t.Errorf("reason %v, want %s (%s)", s["reason"], reason, r.body)
	}
	if s["code"] != json.Number(itoa(code)) {
		t.Errorf("code %v (%T), want the number %d", s["code"], s["code"], code)
	}
	return s
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

const nginxYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx
  labels:
    app: nginx
    tier: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports:
        - containerPort: 80
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
`

// createNginx creates the nginx Deployment in default through the gateway.
func (e *testEnv) createNginx() map[string]any {
	e.t.Helper()
	r := e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", nginxYAML, "Content-Type: application/yaml")
	r.wantCode(e.t, http.StatusCreated)
	return r.object(e.t)
}

func newHTTPTestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
