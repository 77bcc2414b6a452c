package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
//   - gets its headers within watchHeaderGrace even when the backend is silent
//     (see watchHeaderWriter): clients wait for them before they go on;
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
		ww := newWatchHeaderWriter(w, watchHeaderGrace)
		defer ww.finish()
		q.Del("watch")
		r2 := r.Clone(ctx)
		r2.URL.Path = target
		r2.URL.RawPath = ""
		r2.URL.RawQuery = q.Encode()
		r2.RequestURI = r2.URL.RequestURI()
		r2.Header.Set("Accept", mimeJSON)
		next.ServeHTTP(ww, r2)
	})
}

// watchHeaderGrace is how long a watch waits for its backend to establish the
// stream (or refuse it, which is then answered with a proper HTTP error)
// before the gateway sends the 200 headers itself.
var watchHeaderGrace = 200 * time.Millisecond

// watchHeaderWriter sends a watch's headers after a grace period if the
// handler has not answered by then. grpc-gateway answers only once the backend
// sends its gRPC headers, which a backend may hold back until the first event;
// kubectl (rollout status, get -w) waits for the headers with no deadline.
// After such an early 200, an error the handler answers as a Status becomes a
// watch event of type ERROR, as kube-apiserver reports errors inside a watch.
//
// The handler's headers live in a map of their own until it commits: the timer
// never touches them, so the two goroutines share only what mu guards.
type watchHeaderWriter struct {
	w      http.ResponseWriter
	header http.Header

	mu        sync.Mutex
	committed bool
	early     bool // committed by the timer
	errCode   int  // an error status asked for after an early commit
	timer     *time.Timer
}

func newWatchHeaderWriter(w http.ResponseWriter, grace time.Duration) *watchHeaderWriter {
	ww := &watchHeaderWriter{w: w, header: http.Header{}}
	ww.timer = time.AfterFunc(grace, ww.commitEarly)
	return ww
}

func (ww *watchHeaderWriter) commitEarly() {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	if ww.committed {
		return
	}
	ww.committed, ww.early = true, true
	ww.w.Header().Set("Content-Type", mimeJSON)
	ww.w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(ww.w).Flush()
}

// hold cancels the early commit: the handler is about to answer by itself.
func (ww *watchHeaderWriter) hold() {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	ww.timer.Stop()
}

// finish makes sure the timer never writes after the handler returned.
func (ww *watchHeaderWriter) finish() {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	ww.timer.Stop()
	ww.committed = true
}

func (ww *watchHeaderWriter) Header() http.Header { return ww.header }

func (ww *watchHeaderWriter) commitLocked(code int) {
	ww.timer.Stop()
	ww.committed = true
	h := ww.w.Header()
	for k, v := range ww.header {
		h[k] = v
	}
	ww.w.WriteHeader(code)
}

func (ww *watchHeaderWriter) WriteHeader(code int) {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	if ww.committed {
		if ww.early && code >= http.StatusBadRequest {
			ww.errCode = code
		}
		return
	}
	ww.commitLocked(code)
}

var statusPrefix = []byte(`{"kind":"Status"`)

func (ww *watchHeaderWriter) Write(b []byte) (int, error) {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	if !ww.committed {
		ww.commitLocked(http.StatusOK)
	}
	if ww.errCode != 0 && bytes.HasPrefix(b, statusPrefix) {
		ww.errCode = 0
		ev := make([]byte, 0, len(b)+len(errorEventPrefix)+12)
		ev = append(ev, `{"type":"ERROR","object":`...)
		ev = append(ev, bytes.TrimSpace(b)...)
		ev = append(ev, "}\n"...)
		if _, err := ww.w.Write(ev); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return ww.w.Write(b)
}

func (ww *watchHeaderWriter) Flush() {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	if !ww.committed {
		ww.commitLocked(http.StatusOK)
	}
	_ = http.NewResponseController(ww.w).Flush()
}

func (ww *watchHeaderWriter) Unwrap() http.ResponseWriter { return ww.w }

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
		if ww, ok := w.(*watchHeaderWriter); ok {
			ww.hold()
		}
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
