package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
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

// requestedRV reads a merged list's or watch's resourceVersion parameter; a value that
// is not a merged one (a plain number, from another resource) is answered 410 Expired,
// as Kubernetes answers a resourceVersion it no longer has, and ok is false.
func (g *gateway) requestedRV(w http.ResponseWriter, r *http.Request) (rv string, from mergedRV, ok bool) {
	rv = r.URL.Query().Get("resourceVersion")
	if rv == "" || rv == "0" {
		return rv, nil, true
	}
	if from, ok = parseMergedRV(rv); !ok {
		g.writeError(w, r, newAPIError(ReasonExpired, fmt.Sprintf("too old resource version: %s", rv)))
	}
	return rv, from, ok
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

// metaObject is a generated Kubernetes object.
type metaObject interface {
	proto.Message
	GetMetadata() *corev1.ObjectMeta
}

// watchQuery is what a merged watch asks every backend.
type watchQuery struct {
	namespace, labelSelector, fieldSelector string
	resourceVersion, resourceVersionMatch   string
	allowWatchBookmarks                     bool
	sendInitialEvents                       *bool
}

// recvFunc reads a backend's next watch event.
type recvFunc[T metaObject] func() (typ string, obj T, err error)

// watchResponse is a backend's generated Watch*Response.
type watchResponse[T metaObject] interface {
	GetType() string
	GetObject() T
}

// watchStream is a backend's generated watch stream client.
type watchStream[R any] interface {
	Header() (metadata.MD, error)
	Recv() (R, error)
}

// watchRecv waits for a backend's stream to be accepted (or refused: err) and reads its
// events, each passed to fix (when set) first.
func watchRecv[T metaObject, R watchResponse[T]](stream watchStream[R], err error, fix func(typ string, obj T)) (recvFunc[T], error) {
	if err == nil {
		_, err = stream.Header()
	}
	if err != nil {
		return nil, err
	}
	return func() (string, T, error) {
		resp, err := stream.Recv()
		if err != nil {
			var zero T
			return "", zero, err
		}
		obj := resp.GetObject()
		if fix != nil {
			fix(resp.GetType(), obj)
		}
		return resp.GetType(), obj, nil
	}, nil
}

// mergedSource opens one backend's watch; it returns once the backend accepted (or
// refused) the watch.
type mergedSource[T metaObject] struct {
	name  string
	watch func(ctx context.Context, q watchQuery) (recvFunc[T], error)
}

type mergedItem[T metaObject] struct {
	backend string
	typ     string
	obj     T
	err     error
}

// serveMergedWatch serves one watch of every source merged into one stream whose events
// carry the merged resourceVersion (so a client resumes the whole stream). Bookmarks
// are merged likewise; with sendInitialEvents the end-of-initial-events bookmark comes
// once every source has sent its own. A source that is down is left out, as the merged
// lists do. event wraps an object into the stream's {type, object} message.
func serveMergedWatch[T metaObject](g *gateway, w http.ResponseWriter, r *http.Request, params map[string]string,
	sources []mergedSource[T], event func(typ string, obj T) proto.Message) {
	rv, from, ok := g.requestedRV(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	base := watchQuery{
		namespace: params["namespace"], labelSelector: q.Get("labelSelector"), fieldSelector: q.Get("fieldSelector"),
		allowWatchBookmarks: isTrue(q.Get("allowWatchBookmarks")), resourceVersionMatch: q.Get("resourceVersionMatch"),
	}
	if v := q.Get("sendInitialEvents"); v != "" {
		b := isTrue(v)
		base.sendInitialEvents = &b
	}
	ctx := r.Context()
	items := make(chan mergedItem[T])
	streams := 0
	for _, src := range sources {
		wq := base
		wq.resourceVersion = from.backendRV(rv, src.name)
		recv, err := src.watch(ctx, wq)
		if err != nil {
			if ignorable(err) {
				g.log.WarnContext(ctx, "merged watch: backend skipped", "backend", src.name, "err", err)
				continue
			}
			g.writeError(w, r, err)
			return
		}
		streams++
		go func() {
			for {
				typ, obj, err := recv()
				select {
				case items <- mergedItem[T]{backend: src.name, typ: typ, obj: obj, err: err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
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
	for streams > 0 {
		var it mergedItem[T]
		select {
		case <-ctx.Done():
			return
		case it = <-items:
		}
		if it.err != nil {
			streams--
			if ctx.Err() != nil {
				return
			}
			if ignorable(it.err) {
				continue
			}
			body, _ := m.Marshal(statusFromError(it.err))
			_, _ = w.Write([]byte(`{"type":"ERROR","object":` + strings.TrimSpace(string(body)) + "}\n"))
			flush()
			return
		}
		pos[it.backend] = it.obj.GetMetadata().GetResourceVersion()
		obj := proto.Clone(it.obj).(T)
		if md := obj.GetMetadata(); md != nil {
			md.ResourceVersion = pos.String()
			if it.typ == "BOOKMARK" && md.GetAnnotations()["k8s.io/initial-events-end"] == "true" {
				// One end-of-initial-events bookmark, once every source has sent its own.
				if initialEnds++; initialEnds < streams {
					continue
				}
			}
		}
		body, err := m.Marshal(event(it.typ, obj))
		if err != nil {
			return
		}
		if _, err := w.Write(append(body, '\n')); err != nil {
			return
		}
		flush()
	}
}

// watchEvents serves GET /api/v1[/namespaces/{ns}]/events?watch=true: every backend's
// EventService watch, merged.
func (g *gateway) watchEvents(w http.ResponseWriter, r *http.Request, params map[string]string) {
	sources := make([]mergedSource[*corev1.Event], 0, len(g.backends))
	for _, b := range g.backends {
		client := corev1.NewEventServiceClient(b.conn)
		sources = append(sources, mergedSource[*corev1.Event]{name: b.name,
			watch: func(ctx context.Context, q watchQuery) (recvFunc[*corev1.Event], error) {
				stream, err := client.WatchEvents(ctx, &corev1.WatchEventsRequest{
					Namespace: q.namespace, LabelSelector: q.labelSelector, FieldSelector: q.fieldSelector, ResourceVersion: q.resourceVersion,
					ResourceVersionMatch: q.resourceVersionMatch, AllowWatchBookmarks: q.allowWatchBookmarks, SendInitialEvents: q.sendInitialEvents,
				})
				return watchRecv[*corev1.Event](stream, err, nil)
			}})
	}
	serveMergedWatch(g, w, r, params, sources, func(typ string, obj *corev1.Event) proto.Message {
		return &corev1.WatchEventsResponse{Type: typ, Object: obj}
	})
}

// mergedList is what a merged list was asked for: the resourceVersion (and match) to ask
// each backend for, and the page (limit, and the items before it when continuing).
type mergedList struct {
	from  mergedRV // nil: every backend is asked for rv as it is
	rv    string
	match string
	limit int64
	start int // items of the snapshot the earlier pages held
	// continuing: a continued list, asked of every backend at exactly its part of from.
	continuing bool
}

// mergedContinue is the continue token of a merged list: its snapshot (every backend's
// resourceVersion) and how many of its items the pages so far held. The backends'
// watch caches serve a list at exactly that state while it is in their window, so the
// pages are one snapshot, as Kubernetes' are.
type mergedContinue struct {
	RV    string `json:"rv"`
	Start int    `json:"start"`
}

// mergedListOf reads a merged list's resourceVersion, resourceVersionMatch, limit and
// continue (writing the error and returning ok false when they are bad, as the
// apiserver's validation words it).
func (g *gateway) mergedListOf(w http.ResponseWriter, r *http.Request) (l mergedList, ok bool) {
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("limit: Invalid value: %q: must be a non-negative integer", s)))
			return l, false
		}
		l.limit = n
	}
	c := q.Get("continue")
	if c == "" {
		l.rv, l.from, ok = g.requestedRV(w, r)
		l.match = q.Get("resourceVersionMatch")
		return l, ok
	}
	if rv := q.Get("resourceVersion"); rv != "" && rv != "0" {
		g.writeError(w, r, newAPIError(ReasonBadRequest, "specifying resource version is not allowed when using continue"))
		return l, false
	}
	var t mergedContinue
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	from, parsed := parseMergedRV(t.RV)
	if err != nil || !parsed || t.Start <= 0 {
		g.writeError(w, r, newAPIError(ReasonBadRequest, "invalid continue token: continue key is not valid"))
		return l, false
	}
	return mergedList{from: from, rv: t.RV, match: "Exact", limit: l.limit, start: t.Start, continuing: true}, true
}

// backend is what to ask one backend for: its resourceVersion and match.
func (l mergedList) backend(name string) (rv, match string) {
	rv = l.from.backendRV(l.rv, name)
	if l.continuing && rv == "" {
		return "", "" // a backend that did not answer the first page: its newest state
	}
	return rv, l.match
}

// expired turns a backend's 410 on a continued list into Kubernetes' message for a
// continue token older than the window.
func (l mergedList) expired(err error) error {
	if l.continuing && expired(err) {
		return newAPIError(ReasonExpired, continueExpired)
	}
	return err
}

// expired reports a 410 Gone: a merged list fails as a whole with it, rather than
// leaving the backend out.
func expired(err error) bool {
	return err != nil && statusFromError(err).GetReason() == ReasonExpired
}

// continueExpired is Kubernetes' message for a continue token it can no longer serve.
const continueExpired = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response to retrieve the remaining items."

// page cuts the page l asks for out of a merged list's items (all of its snapshot, in
// the list's order) and returns its metadata: the snapshot's merged resourceVersion,
// and, when items remain, a continue token and their count.
func page[T any](l mergedList, items []T, rv mergedRV) ([]T, *corev1.ListMeta) {
	meta := &corev1.ListMeta{ResourceVersion: rv.String()}
	items = items[min(l.start, len(items)):]
	if l.limit <= 0 || int64(len(items)) <= l.limit {
		return items, meta
	}
	rest := int64(len(items)) - l.limit
	b, _ := json.Marshal(mergedContinue{RV: rv.String(), Start: l.start + int(l.limit)})
	meta.Continue = base64.RawURLEncoding.EncodeToString(b)
	meta.RemainingItemCount = &rest
	return items[:l.limit], meta
}
