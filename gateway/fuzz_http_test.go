package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// unavailable is a backend connection whose every call fails at once: the
// gateway's own handling of a request (body limit, media types, decoding,
// patch checks, namespaces) is what FuzzRequest exercises.
type unavailable struct{}

func (unavailable) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return status.Error(codes.Unavailable, "no backend in this test")
}

func (unavailable) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unavailable, "no backend in this test")
}

// fuzzRequests are the requests FuzzRequest sends a fuzzed body with.
var fuzzRequests = []struct{ method, path, contentType string }{
	{http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", mimeJSON},
	{http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", mimeYAML},
	{http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", mimeKubeProtobuf},
	{http.MethodPut, "/apis/batch/v1/namespaces/default/cronjobs/hello", mimeJSON},
	{http.MethodPost, "/api/v1/namespaces", mimeJSON},
	{http.MethodPost, "/api/v1/namespaces", mimeYAML},
	{http.MethodPatch, "/apis/apps/v1/namespaces/default/deployments/web", jsonPatchType},
	{http.MethodPatch, "/apis/apps/v1/namespaces/default/deployments/web", mergePatchType},
	{http.MethodPatch, "/apis/apps/v1/namespaces/default/deployments/web/scale", strategicMergePatchType},
	{http.MethodDelete, "/apis/apps/v1/namespaces/default/deployments/web", mimeJSON},
	{http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", "text/plain"},
}

// FuzzRequest sends a fuzzed body through the whole gateway handler: whatever
// the body, the answer is never a 500, and an error is a Kubernetes Status
// with a reason.
func FuzzRequest(f *testing.F) {
	for i, doc := range manifestDocs(f) {
		f.Add(uint8(i), doc)
	}
	f.Add(uint8(4), []byte(`{"metadata":{"name":"demo","labels":{"a":"b"}}}`))
	f.Add(uint8(6), []byte(`[{"op":"replace","path":"/spec/replicas","value":2}]`))
	f.Add(uint8(9), []byte(`{"propagationPolicy":"Orphan"}`))
	cfg := Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	u := unavailable{}
	h, err := NewHandler(f.Context(), cfg, Backends{Deployment: u, StatefulSet: u, DaemonSet: u, Job: u, Autoscaler: u, Node: u})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rq := fuzzRequests[int(which)%len(fuzzRequests)]
		r := httptest.NewRequest(rq.method, rq.path, strings.NewReader(string(body)))
		r.Header.Set("Content-Type", rq.contentType)
		r.Header.Set("Accept", mimeJSON)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s (%s): %d %s", rq.method, rq.path, rq.contentType, w.Code, w.Body.Bytes())
		}
		if w.Code < 400 {
			return
		}
		var st struct {
			Kind   string `json:"kind"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Kind != "Status" || st.Reason == "" {
			t.Fatalf("%s %s (%s): %d answers %q, not a Status with a reason", rq.method, rq.path, rq.contentType, w.Code, w.Body.Bytes())
		}
	})
}
