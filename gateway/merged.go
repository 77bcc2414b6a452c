package gateway

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// mergedRV is the resourceVersion of a list or watch the gateway merges from several
// backends (events): every backend's own resourceVersion in one string,
// "deployment=12,node=40". Clients treat resourceVersions as opaque, so they hand it
// back to resume a merged watch where they left off.
type mergedRV map[string]string

func (m mergedRV) String() string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// parseMergedRV reads a merged resourceVersion; ok is false when s is not one (a plain
// number, say, from another resource).
func parseMergedRV(s string) (mergedRV, bool) {
	m := mergedRV{}
	for _, part := range strings.Split(s, ",") {
		k, v, found := strings.Cut(part, "=")
		if !found || k == "" || v == "" {
			return nil, false
		}
		m[k] = v
	}
	return m, true
}

// backendRV is what to ask one backend for, given the client's resourceVersion: "" and
// "0" as they are, a merged one's part (a backend it lacks, one that was not deployed
// then: from its newest state).
func (m mergedRV) backendRV(client, backend string) string {
	if m == nil {
		return client
	}
	return m[backend]
}

// ignorable reports whether a backend's error leaves it out of a merged answer rather
// than failing it: not deployed, or down (the list skips it the same way).
func ignorable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Unimplemented:
		return true
	}
	return false
}

type mergedEvent struct {
	backend string
	typ     string
	obj     *corev1.Event
	err     error
}

// watchEvents serves GET /api/v1[/namespaces/{ns}]/events?watch=true: one watch of each
// backend's EventService, merged into one stream whose events carry the merged
// resourceVersion (so a client resumes the whole stream). Bookmarks are merged likewise;
// with sendInitialEvents the end-of-initial-events bookmark comes once every backend
// has sent its own. A backend that is down is left out, like the list does.
func (g *gateway) watchEvents(w http.ResponseWriter, r *http.Request, params map[string]string) {
	q := r.URL.Query()
	rv := q.Get("resourceVersion")
	var from mergedRV
	if rv != "" && rv != "0" {
		var ok bool
		if from, ok = parseMergedRV(rv); !ok {
			g.writeError(w, r, newAPIError(ReasonExpired, fmt.Sprintf("too old resource version: %s", rv)))
			return
		}
	}
	base := corev1.WatchEventsRequest{
		Namespace: params["namespace"], FieldSelector: q.Get("fieldSelector"),
		AllowWatchBookmarks: isTrue(q.Get("allowWatchBookmarks")), ResourceVersionMatch: q.Get("resourceVersionMatch"),
	}
	if v := q.Get("sendInitialEvents"); v != "" {
		b := isTrue(v)
		base.SendInitialEvents = &b
	}
	ctx := r.Context()
	events := make(chan mergedEvent)
	streams := 0
	for _, b := range g.backends {
		req := proto.Clone(&base).(*corev1.WatchEventsRequest)
		req.ResourceVersion = from.backendRV(rv, b.name)
		stream, err := corev1.NewEventServiceClient(b.conn).WatchEvents(ctx, req)
		if err == nil {
			_, err = stream.Header() // the backend accepted the watch (or refused it)
		}
		if err != nil {
			if ignorable(err) {
				g.log.WarnContext(ctx, "watch events: backend skipped", "backend", b.name, "err", err)
				continue
			}
			g.writeError(w, r, err)
			return
		}
		streams++
		go func() {
			for {
				resp, err := stream.Recv()
				if err != nil {
					select {
					case events <- mergedEvent{backend: b.name, err: err}:
					case <-ctx.Done():
					}
					return
				}
				select {
				case events <- mergedEvent{backend: b.name, typ: resp.GetType(), obj: resp.GetObject()}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	m := g.outbound(r)
	w.Header().Set("Content-Type", mimeJSON)
	w.WriteHeader(http.StatusOK)
	flush := func() { _ = http.NewResponseController(w).Flush() }
	flush()
	pos := mergedRV{}
	for k, v := range from {
		pos[k] = v
	}
	initialEnds := 0
	write := func(typ string, obj *corev1.Event) bool {
		body, err := m.Marshal(&corev1.WatchEventsResponse{Type: typ, Object: obj})
		if err != nil {
			return false
		}
		if _, err := w.Write(append(body, '\n')); err != nil {
			return false
		}
		flush()
		return true
	}
	for streams > 0 {
		var e mergedEvent
		select {
		case <-ctx.Done():
			return
		case e = <-events:
		}
		if e.err != nil {
			streams--
			if ctx.Err() != nil {
				return
			}
			if ignorable(e.err) {
				continue
			}
			body, _ := m.Marshal(statusFromError(e.err))
			_, _ = w.Write([]byte(`{"type":"ERROR","object":` + strings.TrimSpace(string(body)) + "}\n"))
			flush()
			return
		}
		pos[e.backend] = e.obj.GetMetadata().GetResourceVersion()
		obj := proto.Clone(e.obj).(*corev1.Event)
		if obj.Metadata == nil {
			obj.Metadata = &corev1.ObjectMeta{}
		}
		obj.Metadata.ResourceVersion = pos.String()
		if e.typ == "BOOKMARK" && obj.Metadata.GetAnnotations()["k8s.io/initial-events-end"] == "true" {
			// One end-of-initial-events bookmark, once every backend has sent its own.
			if initialEnds++; initialEnds < streams {
				continue
			}
		}
		if !write(e.typ, obj) {
			return
		}
	}
}
