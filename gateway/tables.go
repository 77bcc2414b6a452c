package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// Server-side printing: kubectl get asks for `application/json;as=Table;g=meta.k8s.io;v=v1`
// and prints the columns the server chose. These are kubectl's default columns
// (pkg/printers/internalversion), declared by the backend that serves the kind
// (its backend's printers); other kinds get Name and Age.

type column struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Format      string `json:"format"`
	Description string `json:"description"`
	Priority    int    `json:"priority"`
}

type tableRow struct {
	Cells  []any          `json:"cells"`
	Object map[string]any `json:"object"`
}

type table struct {
	Kind              string         `json:"kind"`
	APIVersion        string         `json:"apiVersion"`
	Metadata          map[string]any `json:"metadata"`
	ColumnDefinitions []column       `json:"columnDefinitions"`
	Rows              []tableRow     `json:"rows"`
}

type printer struct {
	columns []column
	cells   func(o map[string]any, now time.Time) []any
}

func col(name, typ string, priority int) column {
	c := column{Name: name, Type: typ, Priority: priority}
	if name == "Name" {
		c.Format = "name"
	}
	return c
}

// printers are the table printers by kind: those of the kinds the gateway
// serves itself (events, ControllerRevisions) and every backend's, deployed or
// not. Other kinds get defaultPrinter.
var printers = func() map[string]printer {
	m := map[string]printer{"Event": eventPrinter, "ControllerRevision": controllerRevisionPrinter, "ComponentStatus": componentStatusPrinter,
		"APIService": apiServicePrinter}
	for _, b := range allBackends {
		maps.Copy(m, b.printers)
	}
	return m
}()

// eventPrinter is kubectl's Event columns.
var eventPrinter = printer{
	columns: []column{col("Last Seen", "string", 0), col("Type", "string", 0), col("Reason", "string", 0), col("Object", "string", 0), col("Message", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		// core/v1 names, else events.k8s.io/v1's.
		io, message := obj(o, "involvedObject"), str2(o, "message")
		if io == nil {
			io, message = obj(o, "regarding"), str2(o, "note")
		}
		last := now
		for _, f := range []string{"lastTimestamp", "deprecatedLastTimestamp", "eventTime"} {
			if t, err := time.Parse(time.RFC3339, str2(o, f)); err == nil {
				last = t
				break
			}
		}
		return []any{duration.HumanDuration(now.Sub(last)), str2(o, "type"), str2(o, "reason"),
			strings.ToLower(str2(io, "kind")) + "/" + str2(io, "name"), message}
	},
}

var defaultPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Age", "string", 0)},
	cells:   func(o map[string]any, now time.Time) []any { return []any{name(o), age(o, now)} },
}

func containerColumns(o map[string]any) []any {
	tpl := obj(obj(obj(o, "spec"), "template"), "spec")
	var names, images []string
	for _, c := range list(tpl, "containers") {
		names = append(names, str2(c, "name"))
		images = append(images, str2(c, "image"))
	}
	var sel []string
	for k, v := range obj(obj(obj(o, "spec"), "selector"), "matchLabels") {
		sel = append(sel, k+"="+fmt.Sprint(v))
	}
	if len(sel) == 0 { // ReplicationController: a plain map
		for k, v := range obj(obj(o, "spec"), "selector") {
			if s, ok := v.(string); ok {
				sel = append(sel, k+"="+s)
			}
		}
	}
	sort.Strings(sel)
	return []any{strings.Join(names, ","), strings.Join(images, ","), orNone(strings.Join(sel, ","))}
}

func obj(m map[string]any, k string) map[string]any { v, _ := m[k].(map[string]any); return v }

func list(m map[string]any, k string) []map[string]any {
	var out []map[string]any
	l, _ := m[k].([]any)
	for _, x := range l {
		if mm, ok := x.(map[string]any); ok {
			out = append(out, mm)
		}
	}
	return out
}

func str2(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func integer(m map[string]any, k string) int {
	switch v := m[k].(type) {
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	case float64:
		return int(v)
	}
	return 0
}

func name(o map[string]any) string { return str2(obj(o, "metadata"), "name") }

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func age(o map[string]any, now time.Time) string {
	t, err := time.Parse(time.RFC3339, str2(obj(o, "metadata"), "creationTimestamp"))
	if err != nil {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// wantsTable reports whether the client asked for a meta.k8s.io Table.
func wantsTable(accepts []string) bool {
	for _, a := range accepts {
		for _, part := range strings.Split(a, ",") {
			if _, params, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && params["as"] == "Table" {
				return true
			}
		}
	}
	return false
}

// toTable turns an object or a list (decoded JSON) into a Table.
func toTable(doc map[string]any, now time.Time) table {
	kind := str2(doc, "kind")
	items := []map[string]any{doc}
	meta := map[string]any{}
	if base, ok := strings.CutSuffix(kind, "List"); ok {
		kind = base
		items = list(doc, "items")
		meta = obj(doc, "metadata")
	}
	p, ok := printers[kind]
	if !ok {
		p = defaultPrinter
	}
	t := table{Kind: "Table", APIVersion: "meta.k8s.io/v1", Metadata: meta, ColumnDefinitions: p.columns, Rows: []tableRow{}}
	for _, it := range items {
		t.Rows = append(t.Rows, tableRow{Cells: p.cells(it, now), Object: it})
	}
	return t
}

func decodeJSON(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	return m, dec.Decode(&m)
}

// tables answers GETs that ask for a Table with one, built from the JSON answer;
// watch streams get one Table per event, as kube-apiserver does.
func (g *gateway) tables(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !wantsTable(r.Header.Values("Accept")) || strings.HasPrefix(r.URL.Path, "/openapi/") {
			next.ServeHTTP(w, r)
			return
		}
		if isWatchPath(r.URL.Path) || r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
			tw := &tableWatchWriter{ResponseWriter: w}
			next.ServeHTTP(tw, r)
			tw.flushLine(true)
			return
		}
		rec := &bufferWriter{header: http.Header{}, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		body := rec.buf.Bytes()
		if rec.code == http.StatusOK {
			if doc, err := decodeJSON(body); err == nil && doc["kind"] != "Status" {
				if b, err := json.Marshal(toTable(doc, time.Now())); err == nil {
					body = b
				}
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.code)
		_, _ = w.Write(body)
	})
}

type bufferWriter struct {
	header http.Header
	code   int
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) WriteHeader(code int)        { b.code = code }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }

// tableWatchWriter rewrites each {"type":..,"object":..} line of a watch stream so
// that object is a one-row Table.
type tableWatchWriter struct {
	http.ResponseWriter
	pending bytes.Buffer
}

func (t *tableWatchWriter) Write(p []byte) (int, error) {
	t.pending.Write(p)
	for bytes.IndexByte(t.pending.Bytes(), '\n') >= 0 {
		t.flushLine(false)
	}
	return len(p), nil
}

func (t *tableWatchWriter) flushLine(final bool) {
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
		Type   string         `json:"type"`
		Object map[string]any `json:"object"`
	}
	if json.Unmarshal(line, &ev) == nil && ev.Object != nil && ev.Object["kind"] != "Status" {
		if b, err := json.Marshal(map[string]any{"type": ev.Type, "object": toTable(ev.Object, time.Now())}); err == nil {
			line = b
		}
	}
	_, _ = t.ResponseWriter.Write(append(line, '\n'))
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Flush lets the handlers below flush through this writer.
func (t *tableWatchWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
