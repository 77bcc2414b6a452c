package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// events.k8s.io/v1 Events are the core/v1 Events under their newer names, as
// kube-apiserver serves one stored Event at both paths: every request at
// /apis/events.k8s.io/v1/... is answered by the core/v1 route of the same
// verb, its body, field selector and answer translated field by field
// (Kubernetes' events/v1 conversion: regarding = involvedObject, note =
// message, reportingController = reportingComponent, deprecatedSource = source,
// deprecatedFirstTimestamp, deprecatedLastTimestamp, deprecatedCount). So
// client-go's events.k8s.io recorder (tools/events, which controller-runtime's
// recorders use) and `kubectl get events.events.k8s.io` work.

const eventsV1 = "events.k8s.io/v1"

// eventsV1Renames are the events.k8s.io/v1 names of core/v1 Event fields.
var eventsV1Renames = [][2]string{
	{"involvedObject", "regarding"},
	{"message", "note"},
	{"reportingComponent", "reportingController"},
	{"source", "deprecatedSource"},
	{"firstTimestamp", "deprecatedFirstTimestamp"},
	{"lastTimestamp", "deprecatedLastTimestamp"},
	{"count", "deprecatedCount"},
}

var eventsV1Resources = []groupResource{
	{eventsV1, apiResource{Name: "events", SingularName: "event", Namespaced: true, Kind: "Event", Verbs: objectVerbs, ShortNames: []string{"ev"}}},
}

// eventToV1 renames a decoded core/v1 Event's fields in place.
func eventToV1(o map[string]any) {
	if o["kind"] != nil && o["kind"] != "Event" {
		return
	}
	if o["apiVersion"] != nil {
		o["apiVersion"] = eventsV1
	}
	for _, r := range eventsV1Renames {
		if v, ok := o[r[0]]; ok {
			delete(o, r[0])
			o[r[1]] = v
		}
	}
}

// eventFromV1 renames a decoded events.k8s.io/v1 Event's fields in place.
func eventFromV1(o map[string]any) {
	if o["apiVersion"] != nil {
		o["apiVersion"] = "v1"
	}
	for _, r := range eventsV1Renames {
		if v, ok := o[r[1]]; ok {
			delete(o, r[1])
			o[r[0]] = v
		}
	}
}

// eventsV1Answer translates a core/v1 answer (an Event, an EventList, or a
// Status left alone).
func eventsV1Answer(body []byte) []byte {
	doc, err := decodeJSON(body)
	if err != nil {
		return body
	}
	switch doc["kind"] {
	case "Event":
		eventToV1(doc)
	case "EventList":
		doc["apiVersion"] = eventsV1
		for _, it := range list(doc, "items") {
			eventToV1(it)
		}
	default:
		return body
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// eventsV1FieldSelector is a field selector in core/v1 names.
func eventsV1FieldSelector(sel string) string {
	sel = strings.ReplaceAll(sel, "regarding.", "involvedObject.")
	sel = strings.ReplaceAll(sel, "reportingController", "reportingComponent")
	return strings.ReplaceAll(sel, "deprecatedSource", "source")
}

// validateEventV1 is what events.k8s.io/v1 requires beyond core/v1: an
// eventTime (the core service validates the rest of an event that has one).
func validateEventV1(o map[string]any) field.ErrorList {
	if t, _ := o["eventTime"].(string); t == "" {
		return field.ErrorList{field.Required(field.NewPath("eventTime"), "")}
	}
	return nil
}

// registerEventsV1 registers the events.k8s.io/v1 routes.
func (g *gateway) registerEventsV1() error {
	g.discovery.add(eventsV1Resources...)
	const ns, one = "/apis/events.k8s.io/v1/namespaces/{namespace}/events", "/apis/events.k8s.io/v1/namespaces/{namespace}/events/{name}"
	routes := []struct{ method, path string }{
		{http.MethodGet, "/apis/events.k8s.io/v1/events"},
		{http.MethodGet, "/apis/events.k8s.io/v1/watch/events"},
		{http.MethodGet, "/apis/events.k8s.io/v1/watch/namespaces/{namespace}/events"},
		{http.MethodGet, ns}, {http.MethodPost, ns},
		{http.MethodGet, one}, {http.MethodPut, one}, {http.MethodDelete, one},
	}
	for _, rt := range routes {
		if err := g.mux.HandlePath(rt.method, rt.path, g.eventsV1); err != nil {
			return fmt.Errorf("register %s %s: %w", rt.method, rt.path, err)
		}
	}
	// A PATCH is the core/v1 PATCH of the translated patch (field validation and
	// managed fields see the core/v1 names).
	corePatch := g.patchHandler(patchRoute{pattern: "/api/v1/namespaces/{namespace}/events/{name}", schema: (&corev1.Event{}).ProtoReflect().Descriptor()})
	if err := g.mux.HandlePath(http.MethodPatch, one, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		patch, err := io.ReadAll(r.Body)
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("error reading patch: %v", err)))
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/api/v1"+strings.TrimPrefix(r.URL.Path, "/apis/"+eventsV1), ""
		patch = eventsV1Patch(patch)
		r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(patch)), int64(len(patch))
		r2.Header.Del("Content-Length")
		accept := r.Header.Get("Accept")
		r2.Header.Set("Accept", mimeJSON)
		rec := &bufferWriter{header: http.Header{}, code: http.StatusOK}
		corePatch(rec, r2, params)
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		r.Header.Set("Accept", accept)
		g.relay(w, r, response{code: rec.code, body: eventsV1Answer(rec.buf.Bytes())})
	}); err != nil {
		return fmt.Errorf("register PATCH %s: %w", one, err)
	}
	return nil
}

// eventsV1Patch is a patch in events.k8s.io/v1 names as one in core/v1 names:
// a merge or strategic merge patch's keys, a JSON patch's paths.
func eventsV1Patch(patch []byte) []byte {
	var ops []map[string]any
	if json.Unmarshal(patch, &ops) == nil {
		for _, op := range ops {
			for _, k := range []string{"path", "from"} {
				p, _ := op[k].(string)
				for _, r := range eventsV1Renames {
					if p == "/"+r[1] || strings.HasPrefix(p, "/"+r[1]+"/") {
						op[k] = "/" + r[0] + strings.TrimPrefix(p, "/"+r[1])
					}
				}
			}
		}
		if out, err := json.Marshal(ops); err == nil {
			return out
		}
		return patch
	}
	var obj map[string]any
	if json.Unmarshal(patch, &obj) != nil || obj == nil {
		return patch
	}
	eventFromV1(obj)
	if out, err := json.Marshal(obj); err == nil {
		return out
	}
	return patch
}

// eventsV1 serves an events.k8s.io/v1 request with the core/v1 route.
func (g *gateway) eventsV1(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/api/v1" + strings.TrimPrefix(r.URL.Path, "/apis/"+eventsV1)
	r2.URL.RawPath = ""
	q := r2.URL.Query()
	if sel := q.Get("fieldSelector"); sel != "" {
		q.Set("fieldSelector", eventsV1FieldSelector(sel))
		r2.URL.RawQuery = q.Encode()
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		obj, err := decodeObject(r, g.inbound(r) == g.yaml)
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("Event in version \"v1\" cannot be handled as a Event: %v", err)))
			return
		}
		if errs := validateEventV1(obj); len(errs) > 0 {
			name, _ := obj["metadata"].(map[string]any)["name"].(string)
			g.writeError(w, r, invalidError("events.k8s.io", "Event", name, errs))
			return
		}
		eventFromV1(obj)
		body, err := json.Marshal(obj)
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonBadRequest, err.Error()))
			return
		}
		r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r2.Header.Set("Content-Type", mimeJSON)
		r2.Header.Del("Content-Length")
	}
	if isWatchPath(r.URL.Path) {
		ew := &eventsV1WatchWriter{ResponseWriter: w}
		g.mux.ServeHTTP(ew, r2)
		ew.flushLine(true)
		return
	}
	accept := r.Header.Get("Accept")
	r2.Header.Set("Accept", mimeJSON)
	rec := &bufferWriter{header: http.Header{}, code: http.StatusOK}
	g.mux.ServeHTTP(rec, r2)
	body := eventsV1Answer(rec.buf.Bytes())
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	r.Header.Set("Accept", accept)
	if g.outbound(r) == g.yaml {
		g.relay(w, r, response{code: rec.code, body: body})
		return
	}
	w.WriteHeader(rec.code)
	_, _ = w.Write(body)
}

// eventsV1WatchWriter translates each {"type":..,"object":..} line of a core/v1
// Event watch.
type eventsV1WatchWriter struct {
	http.ResponseWriter
	pending bytes.Buffer
}

func (t *eventsV1WatchWriter) Write(p []byte) (int, error) {
	t.pending.Write(p)
	for bytes.IndexByte(t.pending.Bytes(), '\n') >= 0 {
		t.flushLine(false)
	}
	return len(p), nil
}

func (t *eventsV1WatchWriter) flushLine(final bool) {
	data := t.pending.Bytes()
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if !final || len(data) == 0 {
			return
		}
		i = len(data)
	}
	line := append([]byte(nil), data[:i]...)
	t.pending.Next(min(i+1, len(data)))
	var ev struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	if json.Unmarshal(line, &ev) == nil && ev.Object != nil {
		if b, err := json.Marshal(map[string]any{"type": ev.Type, "object": json.RawMessage(eventsV1Answer(ev.Object))}); err == nil {
			line = b
		}
	}
	_, _ = t.ResponseWriter.Write(append(line, '\n'))
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Flush lets the handlers below flush through this writer.
func (t *eventsV1WatchWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (t *eventsV1WatchWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
