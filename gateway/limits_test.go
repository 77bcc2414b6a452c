package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCapListLimit(t *testing.T) {
	tests := map[string]struct {
		path, want string // want: the limit the list is asked with
	}{
		"list without limit":    {path: "/api/v1/pods", want: "100"},
		"limit 0 means none":    {path: "/api/v1/pods?limit=0", want: "100"},
		"larger limit":          {path: "/api/v1/namespaces/default/pods?limit=500", want: "100"},
		"smaller limit":         {path: "/api/v1/pods?limit=5&continue=abc", want: "5"},
		"bad limit left to err": {path: "/api/v1/pods?limit=x", want: "x"},
		"watch":                 {path: "/api/v1/pods?watch=true", want: ""},
		"get one":               {path: "/api/v1/namespaces/default/pods/web-0", want: ""},
		"non-resource":          {path: "/healthz", want: ""},
	}
	g := &gateway{json: newJSONMarshaler(), log: testLogger(t)}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got string
			h := g.capListLimit(100, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = r.URL.Query().Get("limit")
				if r.RequestURI != r.URL.RequestURI() {
					t.Errorf("RequestURI %q, URL %q", r.RequestURI, r.URL.RequestURI())
				}
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
			if got != tc.want {
				t.Fatalf("limit %q, want %q", got, tc.want)
			}
		})
	}
	if h := g.capListLimit(0, http.NotFoundHandler()); h == nil {
		t.Fatal("nil handler")
	}
}

// TestMaxWatches: with a cap of 2, a third watch gets 429 with Retry-After
// while two are open; lists are not counted; a closed watch frees its place.
func TestMaxWatches(t *testing.T) {
	g := &gateway{json: newJSONMarshaler(), log: testLogger(t)}
	b := newBlocker()
	h := g.maxWatches(2, b)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	type answer struct {
		code       int
		retryAfter string
	}
	start := func(path string) <-chan answer {
		out := make(chan answer, 1)
		go func() {
			resp, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				out <- answer{code: -1}
				return
			}
			resp.Body.Close()
			out <- answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
		}()
		return out
	}
	entered := func(what string) {
		t.Helper()
		select {
		case <-b.entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never reached the handler", what)
		}
	}
	w1 := start("/api/v1/pods?watch=true")
	entered("watch 1")
	w2 := start("/api/v1/watch/namespaces/default/pods")
	entered("watch 2")

	third := <-start("/apis/apps/v1/deployments?watch=1")
	if third.code != http.StatusTooManyRequests || third.retryAfter != "1" {
		t.Fatalf("third watch: %+v, want 429 with Retry-After 1", third)
	}
	list := start("/api/v1/pods")
	entered("a list")

	close(b.release)
	for i, c := range []<-chan answer{w1, w2, list} {
		if a := <-c; a.code != http.StatusOK {
			t.Fatalf("request %d: %+v", i, a)
		}
	}
	if a := <-start("/api/v1/pods?watch=true"); a.code != http.StatusOK {
		t.Fatalf("a watch after the others closed: %+v", a)
	}
	<-b.entered
}
