package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// statusWriter records what a handler answered, for the request log. It passes
// Flush through (watches flush every event) and drops a second WriteHeader,
// which grpc-gateway issues when a stream fails after its headers went out.
type statusWriter struct {
	http.ResponseWriter
	code    int
	written int64

	// errorEventAsStatus is set when a stream ended before it started: the
	// ERROR event grpc-gateway writes next becomes a plain Status body, with
	// the Status's code (see answerStreamErrorAsStatus).
	errorEventAsStatus bool
	pendingCode        int
	skipNewline        bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code != 0 {
		return
	}
	if w.errorEventAsStatus {
		w.pendingCode = code
		return
	}
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.errorEventAsStatus {
		w.errorEventAsStatus = false
		if status, code, ok := errorEventStatus(b); ok {
			w.WriteHeader(code)
			w.skipNewline = true
			if _, err := w.write(status); err != nil {
				return 0, err
			}
			return len(b), nil
		}
		if w.pendingCode != 0 {
			w.WriteHeader(w.pendingCode)
		}
	}
	if w.skipNewline && bytes.Equal(b, []byte("\n")) {
		w.skipNewline = false
		return len(b), nil
	}
	return w.write(b)
}

func (w *statusWriter) write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.written += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if w.errorEventAsStatus {
		return // the status line is not decided yet
	}
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a stream (exec, attach, port-forward): 101.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// requestNote carries what the request log line should say about a failure.
type requestNote struct {
	reason, message string
	// user is who the request was authenticated as ("" without authentication).
	user string
}

type requestNoteKey struct{}

// noteFailure records the Status a request failed with, for its log line.
func noteFailure(ctx context.Context, s *corev1.Status) {
	if n, ok := ctx.Value(requestNoteKey{}).(*requestNote); ok {
		n.reason, n.message = s.GetReason(), s.GetMessage()
	}
}

// logRequests logs one line per request (method, path, status, duration, and
// the reason and message of a failure) and turns a panic into a 500 Status
// instead of a dropped connection.
func (g *gateway) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		note := &requestNote{}
		r = r.WithContext(context.WithValue(r.Context(), requestNoteKey{}, note))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
					panic(p)
				}
				g.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.code == 0 {
					g.writeError(sw, r, newAPIError(ReasonInternalError, fmt.Sprintf("Internal error occurred: %v", p)))
				}
			}
			level := slog.LevelInfo
			switch {
			case r.URL.Path == "/healthz" || r.URL.Path == "/livez" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics":
				level = slog.LevelDebug // probes and scrapes: every few seconds, forever
			case sw.code >= http.StatusInternalServerError:
				level = slog.LevelWarn
			}
			attrs := []any{"method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
				"status", sw.code, "bytes", sw.written, "duration", time.Since(start)}
			if note.user != "" {
				attrs = append(attrs, "user", note.user)
			}
			if note.reason != "" {
				attrs = append(attrs, "reason", note.reason, "message", note.message)
			}
			g.log.Log(r.Context(), level, "http request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// limitBody reads the whole request body up front, capped at cfg.MaxBodyBytes
// like kube-apiserver's limitedReadBody: a larger body is answered 413 before it
// reaches a handler, and handlers always see a complete, re-readable body.
func (g *gateway) limitBody(next http.Handler) http.Handler {
	limit := g.cfg.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := newAPIError(ReasonRequestEntityTooLarge, fmt.Sprintf("Request entity too large: limit is %d", limit))
		if r.ContentLength > limit {
			g.writeError(w, r, tooLarge)
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				g.writeError(w, r, tooLarge)
				return
			}
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("error reading request body: %v", err)))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		r.ContentLength = int64(len(data))
		next.ServeHTTP(w, r)
	})
}

// negotiate reduces the Accept header to the one media type the gateway will
// answer with (grpc-gateway matches Accept exactly): YAML when the client asks
// for YAML before JSON, JSON otherwise (including kubectl's "as=Table" variants,
// answered as plain JSON objects). Watch streams are always JSON, like
// kube-apiserver's.
func negotiate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/openapi/") { // negotiated by openAPI itself
			next.ServeHTTP(w, r)
			return
		}
		accept := mimeJSON
		if wantsYAML(r.Header.Values("Accept")) && !isWatchPath(r.URL.Path) {
			accept = mimeYAML
		}
		r.Header.Set("Accept", accept)
		next.ServeHTTP(w, r)
	})
}

// wantsYAML reports whether a YAML media type comes before any JSON one.
func wantsYAML(accepts []string) bool {
	for _, a := range accepts {
		for _, part := range strings.Split(a, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case mimeYAML, mimeXYAML:
				return true
			case mimeJSON, "application/*", "*/*":
				return false
			}
		}
	}
	return false
}

func isWatchPath(p string) bool {
	return strings.Contains(p, "/watch/") || strings.HasSuffix(p, "/watch")
}

// outbound is the marshaler for the answer to r (after negotiate).
func (g *gateway) outbound(r *http.Request) runtime.Marshaler {
	if r.Header.Get("Accept") == mimeYAML {
		return g.yaml
	}
	return g.json
}

// inbound is the marshaler for r's body, by Content-Type.
func (g *gateway) inbound(r *http.Request) runtime.Marshaler {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == mimeYAML || mt == mimeXYAML {
		return g.yaml
	}
	return g.json
}
