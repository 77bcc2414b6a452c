package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/testenv"
)

var bins map[string]string

// binDir is where TestMain built the binaries; envBins hands it to a re-run
// of the test binary.
var binDir string

const envBins = "PODWARDEN_TEST_BINS"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// The end-to-end tests need the binaries, Postgres and NATS.
		os.Exit(0)
	}
	if dir := os.Getenv(envBins); dir != "" {
		// Re-run by a test in a private network namespace: the binaries are built.
		bins = harness.Built(dir)
		testenv.Main(m)
	}
	dir, err := os.MkdirTemp("", "podwarden-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	bins, err = harness.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// testenv.Main exits: a defer would never run, and every run left its 320 MB of
	// binaries behind (the disk filled up with them).
	testenv.Main(m, func() { _ = os.RemoveAll(dir) })
}

// startSystem runs a whole podwarden for one test.
func startSystem(t *testing.T, opts harness.Options) *harness.System {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	opts.LogDir = dir + "/logs"
	s, err := harness.Start(ctx, bins, testenv.PostgresDSN(t), dir+"/nats", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.Logs(6000))
		}
		s.Stop()
	})
	return s
}

// api is a small Kubernetes REST client for the gateway.
type api struct {
	t    *testing.T
	base string
}

type response struct {
	Code int
	Body []byte
}

// JSON decodes the body into a generic map.
func (r response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

func (a api) do(method, path, contentType string, body []byte) response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Code: resp.StatusCode, Body: b}
}

func (a api) get(path string) response { return a.do(http.MethodGet, path, "", nil) }

func (a api) mustGet(path string) map[string]any {
	a.t.Helper()
	r := a.get(path)
	if r.Code != http.StatusOK {
		a.t.Fatalf("GET %s: %d %s", path, r.Code, r.Body)
	}
	return r.JSON()
}

func (a api) postJSON(path string, v any) response {
	b, _ := json.Marshal(v)
	return a.do(http.MethodPost, path, "application/json", b)
}

func (a api) mergePatch(path string, patch string) response {
	return a.do(http.MethodPatch, path, "application/merge-patch+json", []byte(patch))
}

func (a api) expect(r response, code int, what string) map[string]any {
	a.t.Helper()
	if r.Code != code {
		a.t.Fatalf("%s: got %d, want %d: %s", what, r.Code, code, r.Body)
	}
	return r.JSON()
}

func readManifest(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/manifests/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// documents splits a multi-document YAML file.
func documents(b []byte) [][]byte {
	var out [][]byte
	for _, d := range strings.Split(string(b), "\n---") {
		if strings.TrimSpace(d) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

// path walks a decoded JSON object: path(m, "status", "readyReplicas").
func path(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

func num(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case string:
		var i int
		fmt.Sscan(n, &i)
		return i
	}
	return 0
}

func items(m map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := m["items"].([]any)
	for _, it := range list {
		if mm, ok := it.(map[string]any); ok {
			out = append(out, mm)
		}
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// eventually polls cond until it holds or the deadline passes, reporting the last state.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last state: %s", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
