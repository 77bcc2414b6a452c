package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

func TestWatchPath(t *testing.T) {
	tests := map[string]struct {
		path   string
		want   string
		wantOK bool
	}{
		"namespaced group list": {path: "/apis/apps/v1/namespaces/default/deployments", want: "/apis/apps/v1/watch/namespaces/default/deployments", wantOK: true},
		"all namespaces group":  {path: "/apis/apps/v1/replicasets", want: "/apis/apps/v1/watch/replicasets", wantOK: true},
		"core namespaced":       {path: "/api/v1/namespaces/kube-system/pods", want: "/api/v1/watch/namespaces/kube-system/pods", wantOK: true},
		"core all namespaces":   {path: "/api/v1/pods", want: "/api/v1/watch/pods", wantOK: true},
		"cluster scoped":        {path: "/api/v1/nodes", want: "/api/v1/watch/nodes", wantOK: true},
		"trailing slash":        {path: "/api/v1/nodes/", want: "/api/v1/watch/nodes", wantOK: true},
		"rollout status":        {path: "/apis/apps/v1/namespaces/default/deployments/web/rolloutstatus", want: "/apis/apps/v1/namespaces/default/deployments/web/rolloutstatus/watch", wantOK: true},
		"already a watch path":  {path: "/api/v1/watch/pods"},
		"single object":         {path: "/apis/apps/v1/namespaces/default/deployments/web"},
		"discovery":             {path: "/apis/apps/v1"},
		"not an API path":       {path: "/healthz"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := watchPath(tc.path)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("watchPath(%q) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// stream opens a streaming GET and returns its reader; the stream is closed
// when the test ends.
func (e *testEnv) stream(path string) (*http.Response, *bufio.Reader) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.t.Context())
	e.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	e.t.Cleanup(func() { _ = resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body)
}

// watchEvent reads one line of a watch stream.
func watchEvent(t *testing.T, rd *bufio.Reader) map[string]any {
	t.Helper()
	line, err := rd.ReadBytes('\n')
	if err != nil {
		t.Fatalf("read watch line: %v (got %q)", err, line)
	}
	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode watch line %q: %v", line, err)
	}
	if _, wrapped := ev["result"]; wrapped {
		t.Fatalf("line still wrapped in result: %s", line)
	}
	return ev
}

func TestWatchTrueOnListPath(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	resp, rd := e.stream("/apis/apps/v1/namespaces/default/deployments?watch=true&labelSelector=app%3Dnginx&resourceVersion=1&allowWatchBookmarks=true")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != mimeJSON {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ev := watchEvent(t, rd)
	if ev["type"] != "ADDED" || get(ev, "object", "metadata", "name") != "nginx" || get(ev, "object", "metadata", "generation") != json.Number("1") {
		t.Errorf("first event %v", ev)
	}
	reqs := e.deploy.watchRequests()
	if len(reqs) != 1 || reqs[0].GetNamespace() != "default" || reqs[0].GetLabelSelector() != "app=nginx" || reqs[0].GetResourceVersion() != "1" {
		t.Errorf("watch requests %v", reqs)
	}

	e.deploy.watchCh <- &deploymentv1.WatchDeploymentsResponse{Type: "MODIFIED", Object: &deploymentv1.Deployment{
		ApiVersion: "apps/v1", Kind: "Deployment", Metadata: &corev1.ObjectMeta{Name: "nginx", Namespace: "default", Generation: 2},
	}}
	ev = watchEvent(t, rd)
	if ev["type"] != "MODIFIED" || get(ev, "object", "metadata", "generation") != json.Number("2") {
		t.Errorf("second event %v", ev)
	}

	// An error in the middle of the stream is a watch event of type ERROR.
	e.deploy.watchCh <- &deploymentv1.WatchDeploymentsResponse{Type: "ERROR"}
	ev = watchEvent(t, rd)
	if ev["type"] != "ERROR" || get(ev, "object", "kind") != "Status" || get(ev, "object", "code") != json.Number("500") {
		t.Errorf("error event %v", ev)
	}
}

func TestWatchHeadersArriveBeforeTheFirstEvent(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/apis/apps/v1/namespaces/empty/deployments?watch=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Do returns with the headers; nothing has happened in the namespace yet.
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("no response headers while no event happened: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// TestWatchHeadersWaitForTheBackend: a watch is answered (its headers sent) only
// once the backend's watch is established, as kube-apiserver answers once its
// watcher is registered: a client that acts as soon as it has the headers must
// see its action as an event. A gateway that sent the headers itself after a
// grace period (200 ms) answered a slow backend's watch before it existed.
func TestWatchHeadersWaitForTheBackend(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, path := range []string{
		"/apis/apps/v1/namespaces/slow/deployments?watch=true",
		"/apis/apps/v1/watch/namespaces/slow/deployments",
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		answered := time.Now()
		resp.Body.Close()
		e.deploy.mu.Lock()
		established := e.deploy.slowEstablished
		e.deploy.mu.Unlock()
		if established.IsZero() || answered.Before(established) {
			t.Errorf("%s: answered at %v, before the backend's watch was established (%v)", path, answered.Format(time.StampMilli), established.Format(time.StampMilli))
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != mimeJSON {
			t.Errorf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

func TestWatchCorePaths(t *testing.T) {
	e := newEnv(t)
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`
	e.do(http.MethodPost, "/api/v1/namespaces/default/pods", pod, "Content-Type: application/json").wantCode(t, http.StatusCreated)
	_, rd := e.stream("/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dnode-1")
	ev := watchEvent(t, rd)
	if ev["type"] != "ADDED" || get(ev, "object", "metadata", "name") != "p1" {
		t.Errorf("event %v", ev)
	}
	e.pods.mu.Lock()
	defer e.pods.mu.Unlock()
	if len(e.pods.Watches) != 1 || e.pods.Watches[0].GetNamespace() != "" || e.pods.Watches[0].GetFieldSelector() != "spec.nodeName=node-1" {
		t.Errorf("watch requests %v", e.pods.Watches)
	}
}

func TestWatchRolloutStatus(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/web/rolloutstatus?watch=true", "")
	r.wantCode(t, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil {
		t.Fatal(err)
	}
	if last["done"] != true || last["message"] != `deployment "web" successfully rolled out` {
		t.Errorf("last line %v", last)
	}
}

func TestWatchOfAMissingObjectIsA404(t *testing.T) {
	e := newEnv(t)
	e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/missing/rolloutstatus?watch=true", "").
		wantStatus(t, http.StatusNotFound, ReasonNotFound)
}

func TestWatchTimeoutSecondsEndsCleanly(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	_, rd := e.stream("/apis/apps/v1/namespaces/default/deployments?watch=true&timeoutSeconds=1")
	if ev := watchEvent(t, rd); ev["type"] != "ADDED" {
		t.Errorf("event %v", ev)
	}
	rest, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("after the timeout: %q, want nothing", rest)
	}
}
