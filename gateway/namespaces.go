package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Namespaces are not stored by any service: every object names its namespace and
// a namespace springs into being on first use. The gateway keeps a small
// in-memory registry so that `kubectl get ns`, `kubectl get ns NAME` and
// `kubectl create ns NAME` behave: the built-in namespaces, every namespace
// something was created in, and the ones created explicitly (which alone make a
// second create fail with AlreadyExists). The registry does not survive a
// restart; nothing depends on it but these three endpoints.
type namespaceRegistry struct {
	mu      sync.Mutex
	now     func() time.Time
	version int
	byName  map[string]*namespaceEntry
}

type namespaceEntry struct {
	object   map[string]any
	explicit bool // created by POST /api/v1/namespaces
}

// builtinNamespaces exist from the start, as in a new cluster.
var builtinNamespaces = []string{"default", "kube-system"}

func newNamespaceRegistry(started time.Time) *namespaceRegistry {
	reg := &namespaceRegistry{now: time.Now, byName: map[string]*namespaceEntry{}}
	for _, name := range builtinNamespaces {
		e := reg.ensureLocked(name, started)
		e.explicit = true
	}
	return reg
}

// ensure returns the namespace, creating it if it is new.
func (reg *namespaceRegistry) ensure(name string) map[string]any {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.ensureLocked(name, reg.now()).object
}

func (reg *namespaceRegistry) ensureLocked(name string, at time.Time) *namespaceEntry {
	if e, ok := reg.byName[name]; ok {
		return e
	}
	e := &namespaceEntry{object: reg.activeLocked(map[string]any{}, name, at)}
	reg.byName[name] = e
	return e
}

// activeLocked completes obj (what a client sent, or nothing) into an Active
// Namespace called name.
func (reg *namespaceRegistry) activeLocked(obj map[string]any, name string, at time.Time) map[string]any {
	reg.version++
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	labels["kubernetes.io/metadata.name"] = name
	meta["name"] = name
	delete(meta, "generateName")
	meta["uid"] = string(uuid.NewUUID())
	meta["resourceVersion"] = strconv.Itoa(reg.version)
	meta["creationTimestamp"] = at.UTC().Format(time.RFC3339)
	meta["labels"] = labels
	spec, _ := obj["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
	}
	if _, ok := spec["finalizers"]; !ok {
		spec["finalizers"] = []any{"kubernetes"}
	}
	obj["apiVersion"] = "v1"
	obj["kind"] = "Namespace"
	obj["metadata"] = meta
	obj["spec"] = spec
	obj["status"] = map[string]any{"phase": "Active"}
	return obj
}

// create registers an explicitly created namespace; ok is false when it was
// already created explicitly (or is built in).
func (reg *namespaceRegistry) create(obj map[string]any, name string, dryRun bool) (map[string]any, bool) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if e, ok := reg.byName[name]; ok && e.explicit {
		return nil, false
	}
	obj = reg.activeLocked(obj, name, reg.now())
	if !dryRun {
		reg.byName[name] = &namespaceEntry{object: obj, explicit: true}
	}
	return obj, true
}

func (reg *namespaceRegistry) list() []map[string]any {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	names := make([]string, 0, len(reg.byName))
	for n := range reg.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]map[string]any, len(names))
	for i, n := range names {
		out[i] = reg.byName[n].object
	}
	return out
}

// track registers the namespace of every successful create under
// /namespaces/{ns}/, so that `kubectl get ns` lists it.
func (reg *namespaceRegistry) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ns := pathNamespace(r.URL.Path)
		if r.Method != http.MethodPost || ns == "" {
			next.ServeHTTP(w, r)
			return
		}
		cw := &codeWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if cw.code == http.StatusCreated || cw.code == http.StatusOK {
			reg.ensure(ns)
		}
	})
}

// pathNamespace is the {ns} of a .../namespaces/{ns}/... path, if it is a valid name.
func pathNamespace(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i := 0; i+2 < len(segs); i++ {
		if segs[i] == "namespaces" && len(validation.IsDNS1123Label(segs[i+1])) == 0 {
			return segs[i+1]
		}
	}
	return ""
}

// codeWriter remembers the status code written.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// listNamespaces serves GET /api/v1/namespaces.
func (g *gateway) listNamespaces(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	g.writeValue(w, r, http.StatusOK, map[string]any{
		"apiVersion": "v1",
		"kind":       "NamespaceList",
		"metadata":   map[string]any{},
		"items":      g.namespaces.list(),
	})
}

// getNamespace serves GET /api/v1/namespaces/{name}: any valid name exists.
func (g *gateway) getNamespace(w http.ResponseWriter, r *http.Request, params map[string]string) {
	name := params["name"]
	if len(validation.IsDNS1123Label(name)) > 0 {
		g.writeError(w, r, notFoundError("", "namespaces", name))
		return
	}
	g.writeValue(w, r, http.StatusOK, g.namespaces.ensure(name))
}

// namespaceFields are the top-level fields of a Namespace.
var namespaceFields = []string{"apiVersion", "kind", "metadata", "spec", "status"}

// createNamespace serves POST /api/v1/namespaces: 201 with the object given,
// completed (uid, creationTimestamp, the kubernetes.io/metadata.name label) and
// Active.
func (g *gateway) createNamespace(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	obj, err := decodeObject(r, g.inbound(r) == g.yaml)
	if err != nil {
		g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("Namespace in version \"v1\" cannot be handled as a Namespace: %v", err)))
		return
	}
	for k := range obj {
		if !slices.Contains(namespaceFields, k) {
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("Namespace in version \"v1\" cannot be handled as a Namespace: strict decoding error: unknown field %q", k)))
			return
		}
	}
	if kind, ok := obj["kind"]; ok && kind != "Namespace" {
		g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("the kind %v in the body does not match the resource namespaces", kind)))
		return
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if gen, _ := meta["generateName"].(string); name == "" && gen != "" {
		name = gen + rand.String(5)
	}
	var errs field.ErrorList
	namePath := field.NewPath("metadata", "name")
	if name == "" {
		errs = append(errs, field.Required(namePath, "name or generateName is required"))
	}
	for _, msg := range validation.IsDNS1123Label(name) {
		if name != "" {
			errs = append(errs, field.Invalid(namePath, name, msg))
		}
	}
	if len(errs) > 0 {
		g.writeError(w, r, invalidError("", "Namespace", name, errs))
		return
	}
	created, ok := g.namespaces.create(obj, name, slices.Contains(r.URL.Query()["dryRun"], "All"))
	if !ok {
		e := newAPIError(ReasonAlreadyExists, fmt.Sprintf("namespaces %q already exists", name))
		e.status.Details = &corev1.StatusDetails{Name: name, Kind: "namespaces"}
		g.writeError(w, r, e)
		return
	}
	g.writeValue(w, r, http.StatusCreated, created)
}

// decodeObject reads a JSON (or YAML) object body into a generic map.
func decodeObject(r *http.Request, isYAML bool) (map[string]any, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if isYAML {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, fmt.Errorf("error converting YAML to JSON: %w", err)
		}
		data = j
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("empty body")
	}
	return obj, nil
}

// notFoundError is kube's NotFound: `namespaces "x" not found`.
func notFoundError(group, resource, name string) *apiError {
	qualified := resource
	if group != "" {
		qualified += "." + group
	}
	e := newAPIError(ReasonNotFound, fmt.Sprintf("%s %q not found", qualified, name))
	e.status.Details = &corev1.StatusDetails{Name: name, Group: group, Kind: resource}
	return e
}

// invalidError is kube's NewInvalid: `Kind "name" is invalid: <errors>` with one
// cause per field error.
func invalidError(group, kind, name string, errs field.ErrorList) *apiError {
	qualified := kind
	if group != "" {
		qualified += "." + group
	}
	e := newAPIError(ReasonInvalid, fmt.Sprintf("%s %q is invalid: %v", qualified, name, errs.ToAggregate()))
	d := &corev1.StatusDetails{Name: name, Group: group, Kind: kind}
	for _, fe := range errs {
		d.Causes = append(d.Causes, &corev1.StatusCause{Reason: string(fe.Type), Message: fe.ErrorBody(), Field: fe.Field})
	}
	e.status.Details = d
	return e
}
