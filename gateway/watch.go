package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// watchDispatch serves Kubernetes' watches. GET <list path>?watch=true (or
// watch=1) goes to the generated watch route, with the rest of the query
// (labelSelector, fieldSelector, resourceVersion) kept:
//
//	/apis/apps/v1/namespaces/{ns}/deployments  -> /apis/apps/v1/watch/namespaces/{ns}/deployments
//	/api/v1/pods                               -> /api/v1/watch/pods
//	/apis/apps/v1/namespaces/{ns}/deployments/{name}/rolloutstatus -> .../rolloutstatus/watch
//
// Every watch (rewritten or asked on a watch path) answers newline-delimited
// {"type":...,"object":...}, flushed per event, and:
//   - gets its headers when the backend's watch is established, not before
//     (forwardResponse writes them when the backend's gRPC headers come, which
//     a backend sends once the watch's starting point is fixed: crud.ServeWatch),
//     as kube-apiserver answers a watch once its watcher is registered: a client
//     that acts once it has the headers sees its action as an event. (A grace
//     timer used to send them after 200 ms whatever the backend did: a slow
//     backend's watch then missed what the client did meanwhile);
//   - ends cleanly after timeoutSeconds, as in Kubernetes.
//
// The rest (resourceVersion, resourceVersionMatch, allowWatchBookmarks,
// sendInitialEvents) is the backend's: its watch cache has Kubernetes' semantics.
func (g *gateway) watchDispatch(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		target := r.URL.Path
		if isTrue(q.Get("watch")) {
			if p, ok := watchPath(r.URL.Path); ok {
				target = p
			}
		}
		if !isWatchPath(target) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if ts, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && ts > 0 {
			// A cancel on a timer, not a deadline: see quietEndWriter.
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			end := time.AfterFunc(time.Duration(ts)*time.Second, cancel)
			defer end.Stop()
			w = &quietEndWriter{ResponseWriter: w, ctx: ctx}
		}
		q.Del("watch")
		r2 := r.Clone(ctx)
		r2.URL.Path = target
		r2.URL.RawPath = ""
		r2.URL.RawQuery = q.Encode()
		r2.RequestURI = r2.URL.RequestURI()
		r2.Header.Set("Accept", mimeJSON)
		next.ServeHTTP(w, r2)
	})
}

func isTrue(v string) bool { return v == "true" || v == "1" }

// watchPath maps a list path (or a rollout status path) to its watch path.
func watchPath(p string) (string, bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	var prefix int
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		prefix = 2 // api/v1
	case len(segs) >= 4 && segs[0] == "apis":
		prefix = 3 // apis/{group}/{version}
	default:
		return "", false
	}
	base, rest := "/"+strings.Join(segs[:prefix], "/"), segs[prefix:]
	switch {
	case rest[0] == "watch":
		return "", false
	case len(rest) == 1:
		return base + "/watch/" + rest[0], true
	case len(rest) == 3 && rest[0] == "namespaces":
		return base + "/watch/namespaces/" + rest[1] + "/" + rest[2], true
	case len(rest) == 5 && rest[0] == "namespaces" && rest[4] == "rolloutstatus":
		return "/" + strings.Join(segs, "/") + "/watch", true
	}
	return "", false
}

// quietEndWriter ends a watch whose timeoutSeconds ran out the way Kubernetes
// does, by closing the stream: once ctx is done it drops the ERROR event that
// grpc-gateway writes for the cancelled gRPC stream (and that event's newline).
//
// ctx must carry no deadline, only a cancel: with a deadline, gRPC sends it to
// the backend, whose transport resets the stream when it passes, and the
// client reports that reset as DeadlineExceeded as soon as the clock is past
// the deadline, which can be before the context's own timer has marked ctx
// done; the ERROR event then got through. With a plain cancel the stream only
// ends because ctx was cancelled, so ctx.Err() is set before the event comes.
type quietEndWriter struct {
	http.ResponseWriter
	ctx         context.Context
	droppedLast bool
}

var errorEventPrefix = []byte(`{"type":"ERROR"`)

func (w *quietEndWriter) Write(b []byte) (int, error) {
	if w.ctx.Err() != nil {
		if bytes.HasPrefix(b, errorEventPrefix) {
			w.droppedLast = true
			return len(b), nil
		}
		if w.droppedLast && bytes.Equal(b, []byte("\n")) {
			w.droppedLast = false
			return len(b), nil
		}
	}
	return w.ResponseWriter.Write(b)
}

func (w *quietEndWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// answerStreamErrorAsStatus finds the request's statusWriter under w and makes
// it answer the coming ERROR event as a plain Status with the Status's code,
// the way kube-apiserver refuses a watch (400 for a bad selector, 404, ...).
func answerStreamErrorAsStatus(w http.ResponseWriter) {
	for {
		if sw, ok := w.(*statusWriter); ok {
			if sw.code == 0 {
				sw.errorEventAsStatus = true
			}
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

// errorEventStatus extracts the Status of a {"type":"ERROR","object":...} event.
func errorEventStatus(b []byte) (status []byte, code int, ok bool) {
	if !bytes.HasPrefix(b, errorEventPrefix) {
		return nil, 0, false
	}
	var ev struct {
		Object json.RawMessage `json:"object"`
	}
	var st struct {
		Code int `json:"code"`
	}
	if json.Unmarshal(b, &ev) != nil || json.Unmarshal(ev.Object, &st) != nil || st.Code == 0 {
		return nil, 0, false
	}
	return ev.Object, st.Code, true
}
