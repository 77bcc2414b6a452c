package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

func TestInflightClass(t *testing.T) {
	tests := map[string]struct {
		method, path string
		want         string
	}{
		"get":                    {method: http.MethodGet, path: "/apis/apps/v1/namespaces/default/deployments/web", want: "readOnly"},
		"list":                   {method: http.MethodGet, path: "/api/v1/pods", want: "readOnly"},
		"watch param":            {method: http.MethodGet, path: "/api/v1/pods?watch=true", want: ""},
		"watch prefix":           {method: http.MethodGet, path: "/api/v1/watch/namespaces/default/pods", want: ""},
		"pod log":                {method: http.MethodGet, path: "/api/v1/namespaces/default/pods/web-0/log", want: ""},
		"exec":                   {method: http.MethodPost, path: "/api/v1/namespaces/default/pods/web-0/exec", want: ""},
		"create":                 {method: http.MethodPost, path: "/apis/apps/v1/namespaces/default/deployments", want: "mutating"},
		"update":                 {method: http.MethodPut, path: "/apis/apps/v1/namespaces/default/deployments/web", want: "mutating"},
		"patch scale":            {method: http.MethodPatch, path: "/apis/apps/v1/namespaces/default/deployments/web/scale", want: "mutating"},
		"delete collection":      {method: http.MethodDelete, path: "/api/v1/namespaces/default/pods", want: "mutating"},
		"non-resource get":       {method: http.MethodGet, path: "/healthz", want: "readOnly"},
		"non-resource post":      {method: http.MethodPost, path: "/something", want: "mutating"},
		"discovery":              {method: http.MethodGet, path: "/apis", want: "readOnly"},
		"status of a deployment": {method: http.MethodGet, path: "/apis/apps/v1/namespaces/default/deployments/web/status", want: "readOnly"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			if got := inflightClass(parseRequestInfo(r)); got != tc.want {
				t.Errorf("class %q, want %q", got, tc.want)
			}
		})
	}
}

// blocker is a handler that holds every request until released.
type blocker struct {
	entered chan string
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan string, 16), release: make(chan struct{})}
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- r.Method + " " + r.URL.Path
	select {
	case <-b.release:
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusOK)
}

// TestMaxInFlight: with one read-only and one mutating slot, a second request
// of a class gets 429 TooManyRequests with Retry-After: 1 while the first is
// served; the other class, watches, and system:masters are not refused; a
// freed slot serves again.
func TestMaxInFlight(t *testing.T) {
	g := &gateway{json: newJSONMarshaler(), log: testLogger(t)}
	b := newBlocker()
	h := g.maxInFlight(1, 1, b)
	// The user comes from a header here, as authentication would set it.
	withUser := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if groups := r.Header.Get("X-Test-Groups"); groups != "" {
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, UserInfo{Name: "admin", Groups: strings.Split(groups, ",")}))
		}
		h.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(withUser)
	t.Cleanup(srv.Close)

	send := func(method, path string, headers ...string) result {
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, hd := range headers {
			k, v, _ := strings.Cut(hd, ":")
			req.Header.Set(k, strings.TrimSpace(v))
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var body strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			body.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return result{code: resp.StatusCode, header: resp.Header, body: []byte(body.String())}
	}
	var wg sync.WaitGroup
	held := func(method, path string, headers ...string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := send(method, path, headers...); r.code != http.StatusOK {
				t.Errorf("%s %s: status %d, want 200 once released", method, path, r.code)
			}
		}()
		select {
		case <-b.entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %s never reached the handler", method, path)
		}
	}
	const pods = "/api/v1/namespaces/default/pods"

	held(http.MethodGet, pods) // the one read-only slot
	s := send(http.MethodGet, pods).wantStatus(t, http.StatusTooManyRequests, ReasonTooManyRequests)
	if s["message"] != "Too many requests, please try again later." {
		t.Errorf("message %v", s["message"])
	}
	if got := get(s, "details", "retryAfterSeconds"); got == nil || got.(interface{ String() string }).String() != "1" {
		t.Errorf("details.retryAfterSeconds %v, want 1", got)
	}
	if r := send(http.MethodGet, pods); r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", r.header.Get("Retry-After"))
	}

	held(http.MethodPost, pods) // the mutating pool is apart: served
	send(http.MethodDelete, pods+"/web-0").wantStatus(t, http.StatusTooManyRequests, ReasonTooManyRequests)

	held(http.MethodGet, pods+"?watch=true")                                         // long-running: never counted
	held(http.MethodGet, "/api/v1/watch/pods")                                       // nor the legacy watch path
	held(http.MethodGet, pods+"/web-0/log")                                          // nor a log stream
	held(http.MethodGet, pods, "X-Test-Groups: system:masters,system:authenticated") // a system:masters user is never refused
	send(http.MethodGet, pods, "X-Test-Groups: dev").wantStatus(t, http.StatusTooManyRequests, ReasonTooManyRequests)

	close(b.release)
	wg.Wait()
	// The slots are free again.
	b.release = make(chan struct{})
	close(b.release)
	send(http.MethodGet, pods).wantCode(t, http.StatusOK)
	send(http.MethodPost, pods).wantCode(t, http.StatusOK)
}

// TestMaxInFlightOff: 0 and 0 add no limit (the zero Config, the tests' and
// all-in-one's), and one class can be limited alone.
func TestMaxInFlightOff(t *testing.T) {
	g := &gateway{json: newJSONMarshaler(), log: testLogger(t)}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if h := g.maxInFlight(0, 0, next); h == nil {
		t.Fatal("nil handler")
	}
	b := newBlocker()
	close(b.release)
	h := g.maxInFlight(0, 1, b)
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil))
		<-b.entered
		if w.Code != http.StatusOK {
			t.Fatalf("status %d, want 200 with no read-only limit", w.Code)
		}
	}
}

// TestMaxInFlightConfig: the gateway command's defaults are kube-apiserver's
// 400 and 200; a negative limit is refused.
func TestMaxInFlightConfig(t *testing.T) {
	def := DefaultConfig()
	if def.MaxRequestsInFlight != 400 || def.MaxMutatingRequestsInFlight != 200 {
		t.Fatalf("defaults %d/%d, want 400/200", def.MaxRequestsInFlight, def.MaxMutatingRequestsInFlight)
	}
	for name, cfg := range map[string]Config{
		"negative read-only": {MaxRequestsInFlight: -1},
		"negative mutating":  {MaxMutatingRequestsInFlight: -1},
	} {
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "must not be negative") {
			t.Errorf("%s: %v, want an error", name, err)
		}
	}
}

// slowDeployments holds every GetDeployment until released.
type slowDeployments struct {
	*fakeDeployments
	entered chan struct{}
	release chan struct{}
}

func (s *slowDeployments) GetDeployment(ctx context.Context, req *deploymentv1.GetDeploymentRequest) (*deploymentv1.GetDeploymentResponse, error) {
	s.entered <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return s.fakeDeployments.GetDeployment(ctx, req)
}

// TestMaxInFlightThroughHandler: NewHandler applies the in-flight limit after
// authentication, so a token of a system:masters user passes a full pool and
// another user's request gets 429.
func TestMaxInFlightThroughHandler(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte("dev-token,dev,1,dev\nadmin-token,admin,2,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	slow := &slowDeployments{fakeDeployments: newFakeDeployments(), entered: make(chan struct{}, 8), release: make(chan struct{})}
	conn := startBackend(t, func(s *grpc.Server) { deploymentv1.RegisterDeploymentServiceServer(s, slow) })
	h, err := NewHandler(t.Context(), Config{MaxRequestsInFlight: 1, TokenAuthFile: tokens, Logger: testLogger(t)}, Backends{Deployment: conn})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(token string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/apis/apps/v1/namespaces/default/deployments/web", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	held := make(chan int, 2)
	hold := func(token string) {
		go func() { held <- get(token).StatusCode }()
		select {
		case <-slow.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the request never reached the backend")
		}
	}
	hold("dev-token")
	if resp := get("dev-token"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("second read: %d, Retry-After %q; want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	hold("admin-token") // system:masters: never refused
	close(slow.release)
	for range 2 {
		if code := <-held; code != http.StatusNotFound { // the fake has no "web": it answered
			t.Errorf("held request: %d, want the backend's 404", code)
		}
	}
}
