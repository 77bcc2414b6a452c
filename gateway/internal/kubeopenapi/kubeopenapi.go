// Package kubeopenapi holds kube-apiserver's OpenAPI v3 schemas of the
// group/versions the gateway can serve (data/, written by ./gen from the
// published upstream documents) and builds from them the OpenAPI v3 document
// of each group/version as served: the schemas of the kinds actually served
// (with everything they reference), and a path for each of their endpoints.
// The schemas carry Kubernetes' extensions (x-kubernetes-group-version-kind,
// x-kubernetes-list-type and list-map-keys, x-kubernetes-patch-strategy and
// patch-merge-key), which kubectl explain, kubectl's client-side validation
// and strategic merge patch, and server-side apply read.
package kubeopenapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

//go:embed data/*.json
var data embed.FS

// Release is the Kubernetes release the schemas come from.
func Release() string { return load().release }

// refPrefix is where an OpenAPI v3 document keeps its schemas.
const refPrefix = "#/components/schemas/"

// catalog is every schema of the embedded data, by name (the same name means
// the same schema in every group/version's document), and the kinds they
// describe.
type catalog struct {
	release string
	schemas map[string]json.RawMessage
	params  map[string]json.RawMessage
	kinds   map[schema.GroupVersionKind]string // schema name by kind
	err     error
}

var load = sync.OnceValue(func() *catalog {
	c := &catalog{schemas: map[string]json.RawMessage{}, kinds: map[schema.GroupVersionKind]string{}}
	c.err = c.read()
	return c
})

func (c *catalog) read() error {
	var src struct {
		Release string `json:"release"`
	}
	if err := readJSON("data/SOURCE.json", &src); err != nil {
		return err
	}
	c.release = src.Release
	if err := readJSON("data/parameters.json", &c.params); err != nil {
		return err
	}
	files, err := fs.Glob(data, "data/api*.json")
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		var doc struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		}
		if err := readJSON(f, &doc); err != nil {
			return err
		}
		for name, raw := range doc.Schemas {
			if _, seen := c.schemas[name]; seen {
				continue
			}
			c.schemas[name] = raw
			var s struct {
				GVKs []gvkExt `json:"x-kubernetes-group-version-kind"`
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("%s: schema %s: %w", f, name, err)
			}
			for _, k := range s.GVKs {
				gvk := schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
				// A kind shared by every group (DeleteOptions, WatchEvent) keeps its
				// first schema; a group's own kind has exactly one.
				if _, dup := c.kinds[gvk]; !dup {
					c.kinds[gvk] = name
				}
			}
		}
	}
	return nil
}

func readJSON(name string, v any) error {
	b, err := data.ReadFile(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

type gvkExt struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// SchemaName is the name of the schema of gvk ("io.k8s.api.apps.v1.Deployment").
func SchemaName(gvk schema.GroupVersionKind) (string, bool) {
	c := load()
	name, ok := c.kinds[gvk]
	return name, ok
}

// Models are the schemas of the kinds in gvks and everything they reference,
// by name, in kube-openapi's form (what managedfields.NewTypeConverter reads).
func Models(gvks []schema.GroupVersionKind) (map[string]*spec.Schema, error) {
	c := load()
	if c.err != nil {
		return nil, c.err
	}
	var roots []string
	for _, gvk := range gvks {
		if name, ok := c.kinds[gvk]; ok {
			roots = append(roots, name)
		}
	}
	out := map[string]*spec.Schema{}
	for name := range c.closure(roots) {
		s := new(spec.Schema)
		if err := json.Unmarshal(c.schemas[name], s); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		out[name] = s
	}
	return out, nil
}

// closure is roots and every schema they reference, transitively.
func (c *catalog) closure(roots []string) map[string]bool {
	seen := map[string]bool{}
	stack := slices.Clone(roots)
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		raw, ok := c.schemas[name]
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		var v any
		_ = json.Unmarshal(raw, &v)
		walkRefs(v, func(ref string) {
			if n, ok := strings.CutPrefix(ref, refPrefix); ok && !seen[n] {
				stack = append(stack, n)
			}
		})
	}
	return seen
}

func walkRefs(v any, visit func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" {
				visit(s)
				continue
			}
			walkRefs(e, visit)
		}
	case []any:
		for _, e := range v {
			walkRefs(e, visit)
		}
	}
}

// Resource is one served resource of a group/version, as discovery lists it.
type Resource struct {
	// Name is the plural, or plural/subresource ("deployments/scale").
	Name       string
	Namespaced bool
	// Kind, with Group and Version when they differ from the group/version
	// serving it (a scale subresource is autoscaling/v1 Scale).
	Group, Version, Kind string
	Verbs                []string
}

// Document builds the OpenAPI v3 document of group/version gv ("v1",
// "apps/v1") serving resources. ok is false when none of the resources has an
// upstream schema (a group/version of podwarden's own).
func Document(gv string, resources []Resource) (doc []byte, ok bool, err error) {
	c := load()
	if c.err != nil {
		return nil, false, c.err
	}
	group, version, found := strings.Cut(gv, "/")
	if !found {
		group, version = "", gv
	}
	b := docBuilder{c: c, group: group, version: version, paths: map[string]map[string]any{}, kinds: map[string]string{}}
	for _, r := range resources {
		if !strings.Contains(r.Name, "/") {
			b.kinds[r.Name] = r.Kind
		}
	}
	for _, r := range resources {
		b.add(r)
	}
	if len(b.roots) == 0 {
		return nil, false, nil
	}
	schemas := map[string]json.RawMessage{}
	for name := range c.closure(b.roots) {
		schemas[name] = c.schemas[name]
	}
	out, err := json.Marshal(map[string]any{
		"openapi": "3.0.0",
		"info":    map[string]string{"title": "Kubernetes", "version": "v" + c.release},
		"paths":   b.paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"BearerToken": map[string]string{"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"},
			},
		},
		"security": []map[string][]string{{"BearerToken": {}}},
	})
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// docBuilder collects a group/version's paths and the schemas they use.
type docBuilder struct {
	c              *catalog
	group, version string
	paths          map[string]map[string]any
	roots          []string
	kinds          map[string]string // the kind of each resource, by plural
}

// Media types of request and response bodies.
var (
	objectMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	patchMediaTypes  = []string{"application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}
)

const (
	metaSchema    = "io.k8s.apimachinery.pkg.apis.meta.v1."
	statusSchema  = metaSchema + "Status"
	patchSchema   = metaSchema + "Patch"
	deleteOptions = metaSchema + "DeleteOptions"
)

func (b *docBuilder) add(r Resource) {
	plural, sub, _ := strings.Cut(r.Name, "/")
	g, v := b.group, b.version
	if r.Version != "" {
		g, v = r.Group, r.Version
	}
	gvk := schema.GroupVersionKind{Group: g, Version: v, Kind: r.Kind}
	kindSchema, ok := b.c.kinds[gvk]
	if !ok {
		return
	}
	b.roots = append(b.roots, kindSchema, statusSchema)
	prefix := "/api/" + b.version
	if b.group != "" {
		prefix = "/apis/" + b.group + "/" + b.version
	}
	scope := ""
	pathParams := []any{}
	if r.Namespaced {
		prefix += "/namespaces/{namespace}"
		scope = "Namespaced"
		pathParams = append(pathParams, b.c.params["namespace"])
	}
	ext := map[string]string{"group": g, "kind": r.Kind, "version": v}
	parentKind := r.Kind // a subresource's operations are named after its object's kind
	if k, ok := b.kinds[plural]; ok && sub != "" {
		parentKind = k
	}
	opID := func(verb string) string {
		return verb + opGroup(b.group) + camel(b.version) + scope + parentKind + camel(sub)
	}
	has := func(verb string) bool { return slices.Contains(r.Verbs, verb) }
	op := func(action, verb, desc string, params []string, body any, codes map[string]string, result string) map[string]any {
		o := map[string]any{
			"description":                     desc,
			"operationId":                     opID(verb),
			"tags":                            []string{strings.NewReplacer(".", "_", "/", "_").Replace(b.tag())},
			"x-kubernetes-action":             action,
			"x-kubernetes-group-version-kind": ext,
			"responses":                       responses(codes, result),
		}
		if len(params) > 0 {
			var ps []any
			for _, p := range params {
				if raw, ok := b.c.params[p]; ok {
					ps = append(ps, raw)
				}
			}
			o["parameters"] = ps
		}
		if body != nil {
			o["requestBody"] = body
		}
		return o
	}
	writeParams := []string{"dryRun", "fieldManager", "fieldValidation", "pretty"}
	objectBody := content(objectMediaTypes, kindSchema, true)

	if sub == "" {
		list := prefix + "/" + plural
		item := map[string]any{"parameters": pathParams}
		if has("list") {
			if listSchema, ok := b.c.kinds[schema.GroupVersionKind{Group: g, Version: v, Kind: r.Kind + "List"}]; ok {
				b.roots = append(b.roots, listSchema)
				item["get"] = op("list", "list", "list or watch objects of kind "+r.Kind,
					[]string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "pretty", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"},
					nil, map[string]string{"200": "OK"}, listSchema)
			}
		}
		if has("create") {
			item["post"] = op("post", "create", "create a "+r.Kind, writeParams, objectBody,
				map[string]string{"200": "OK", "201": "Created", "202": "Accepted"}, kindSchema)
		}
		if has("deletecollection") {
			b.roots = append(b.roots, deleteOptions)
			item["delete"] = op("deletecollection", "deletecollection", "delete collection of "+r.Kind,
				[]string{"continue", "dryRun", "fieldSelector", "gracePeriodSeconds", "labelSelector", "limit", "orphanDependents", "propagationPolicy", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds"},
				content([]string{"*/*"}, deleteOptions, false), map[string]string{"200": "OK"}, statusSchema)
		}
		if len(item) > 1 {
			b.paths[list] = item
		}
	}

	path := prefix + "/" + plural + "/{name}"
	what := r.Kind
	if sub != "" {
		path += "/" + sub
		what = sub + " of the specified " + parentKind
	}
	item := map[string]any{"parameters": append([]any{nameParam(parentKind)}, append(pathParams, b.c.params["pretty"])...)}
	if has("get") {
		item["get"] = op("get", "read", "read the specified "+what, nil, nil, map[string]string{"200": "OK"}, kindSchema)
	}
	if has("update") {
		item["put"] = op("put", "replace", "replace the specified "+what, writeParams[:3], objectBody,
			map[string]string{"200": "OK", "201": "Created"}, kindSchema)
	}
	if has("patch") {
		b.roots = append(b.roots, patchSchema)
		item["patch"] = op("patch", "patch", "partially update the specified "+what,
			[]string{"dryRun", "fieldManager", "fieldValidation", "force"}, content(patchMediaTypes, patchSchema, true),
			map[string]string{"200": "OK", "201": "Created"}, kindSchema)
	}
	if has("delete") {
		b.roots = append(b.roots, deleteOptions)
		item["delete"] = op("delete", "delete", "delete a "+r.Kind,
			[]string{"dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"},
			content([]string{"*/*"}, deleteOptions, false), map[string]string{"200": "OK", "202": "Accepted"}, statusSchema)
	}
	if len(item) > 1 {
		b.paths[path] = item
	}
}

// tag is the operations' tag: "core_v1", "apps_v1".
func (b *docBuilder) tag() string {
	if b.group == "" {
		return "core_" + b.version
	}
	return b.group + "_" + b.version
}

func nameParam(kind string) map[string]any {
	return map[string]any{"description": "name of the " + kind, "in": "path", "name": "name", "required": true,
		"schema": map[string]any{"type": "string", "uniqueItems": true}}
}

func ref(name string) map[string]string { return map[string]string{"$ref": refPrefix + name} }

func content(mediaTypes []string, schemaName string, required bool) map[string]any {
	c := map[string]any{}
	for _, mt := range mediaTypes {
		c[mt] = map[string]any{"schema": ref(schemaName)}
	}
	out := map[string]any{"content": c}
	if required {
		out["required"] = true
	}
	return out
}

func responses(codes map[string]string, result string) map[string]any {
	out := map[string]any{"401": map[string]string{"description": "Unauthorized"}}
	for _, code := range slices.Sorted(maps.Keys(codes)) {
		out[code] = map[string]any{"description": codes[code], "content": content(objectMediaTypes, result, false)["content"]}
	}
	return out
}

// opGroup is a group as operation ids spell it: "Core", "Apps", "Coordination".
func opGroup(group string) string {
	if group == "" {
		return "Core"
	}
	return camel(strings.TrimSuffix(group, ".k8s.io"))
}

// camel turns "coordination.k8s.io" into "CoordinationK8sIo", "v1" into "V1".
func camel(s string) string {
	var out strings.Builder
	up := true
	for _, r := range s {
		if r == '.' || r == '-' || r == '/' {
			up = true
			continue
		}
		if up {
			out.WriteString(strings.ToUpper(string(r)))
			up = false
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

// AllModels are the schemas of every kind in the data, with everything they
// reference.
func AllModels() (map[string]*spec.Schema, error) {
	c := load()
	if c.err != nil {
		return nil, c.err
	}
	gvks := make([]schema.GroupVersionKind, 0, len(c.kinds))
	for gvk := range c.kinds {
		gvks = append(gvks, gvk)
	}
	return Models(gvks)
}
