package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	k8sversion "k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/yaml"

	"github.com/podwarden/podwarden/proto/openapi"
)

// KubernetesVersion is the Kubernetes release whose API the gateway mirrors
// (the k8s.io/apimachinery the project builds on), reported by /version.
var KubernetesVersion = struct{ Major, Minor, GitVersion string }{"1", "37", "v1.37.2+podwarden"}

// apiResource is metav1.APIResource, one row of `kubectl api-resources`.
type apiResource struct {
	Name         string   `json:"name"`
	SingularName string   `json:"singularName"`
	Namespaced   bool     `json:"namespaced"`
	Group        string   `json:"group,omitempty"`
	Version      string   `json:"version,omitempty"`
	Kind         string   `json:"kind"`
	Verbs        []string `json:"verbs"`
	ShortNames   []string `json:"shortNames,omitempty"`
	Categories   []string `json:"categories,omitempty"`
}

// groupResource is a resource with the group/version that serves it ("v1" for core).
type groupResource struct {
	groupVersion string
	apiResource
}

var (
	objectVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	// namespaceVerbs: a namespace is deleted one at a time (no deletecollection, as in Kubernetes).
	namespaceVerbs   = []string{"create", "delete", "get", "list", "patch", "update", "watch"}
	subresourceVerbs = []string{"get", "patch", "update"}
)

// Resources the gateway serves itself.
var coreResources = []groupResource{
	{"v1", apiResource{Name: "events", SingularName: "event", Namespaced: true, Kind: "Event", Verbs: []string{"list"}, ShortNames: []string{"ev"}}},
}

// discovery is what /api and /apis describe: the resources of every
// group/version actually served (a backend that is not deployed adds none).
type discovery struct {
	resources map[string][]apiResource // by group/version
}

func (d *discovery) add(rs ...groupResource) {
	if d.resources == nil {
		d.resources = map[string][]apiResource{}
	}
	for _, r := range rs {
		// The first entry of a resource wins: a backend's (events with every verb, from
		// the core service) over the gateway's own fallback (events, list only).
		if slices.ContainsFunc(d.resources[r.groupVersion], func(e apiResource) bool { return e.Name == r.Name }) {
			continue
		}
		d.resources[r.groupVersion] = append(d.resources[r.groupVersion], r.apiResource)
	}
}

// groups lists the named API groups served, sorted ("apps", ...).
func (d *discovery) groups() []apiGroup {
	var out []apiGroup
	byName := map[string]int{}
	for gv := range d.resources {
		group, version, ok := splitGroupVersion(gv)
		if !ok {
			continue // core "v1" is under /api
		}
		v := groupVersionForDiscovery{GroupVersion: gv, Version: version}
		if i, seen := byName[group]; seen {
			// Several versions of a group (autoscaling v2 and v1): one APIGroup, the
			// versions in Kubernetes' priority order, the first preferred.
			out[i].Versions = append(out[i].Versions, v)
			slices.SortFunc(out[i].Versions, func(a, b groupVersionForDiscovery) int {
				return -k8sversion.CompareKubeAwareVersionStrings(a.Version, b.Version)
			})
			out[i].PreferredVersion = out[i].Versions[0]
			continue
		}
		byName[group] = len(out)
		out = append(out, apiGroup{Kind: "APIGroup", APIVersion: "v1", Name: group, Versions: []groupVersionForDiscovery{v}, PreferredVersion: v})
	}
	slices.SortFunc(out, func(a, b apiGroup) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func splitGroupVersion(gv string) (group, version string, ok bool) {
	group, version, ok = strings.Cut(gv, "/")
	if !ok {
		return "", gv, false
	}
	return group, version, true
}

type groupVersionForDiscovery struct {
	GroupVersion string `json:"groupVersion"`
	Version      string `json:"version"`
}

type apiGroup struct {
	Kind             string                     `json:"kind,omitempty"`
	APIVersion       string                     `json:"apiVersion,omitempty"`
	Name             string                     `json:"name"`
	Versions         []groupVersionForDiscovery `json:"versions"`
	PreferredVersion groupVersionForDiscovery   `json:"preferredVersion"`
}

type apiResourceList struct {
	Kind         string        `json:"kind"`
	APIVersion   string        `json:"apiVersion"`
	GroupVersion string        `json:"groupVersion"`
	Resources    []apiResource `json:"resources"`
}

type serverAddressByClientCIDR struct {
	ClientCIDR    string `json:"clientCIDR"`
	ServerAddress string `json:"serverAddress"`
}

// apiVersions serves GET /api (metav1.APIVersions).
func (g *gateway) apiVersions(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	g.writeValue(w, r, http.StatusOK, struct {
		Kind                       string                      `json:"kind"`
		Versions                   []string                    `json:"versions"`
		ServerAddressByClientCIDRs []serverAddressByClientCIDR `json:"serverAddressByClientCIDRs"`
	}{"APIVersions", []string{"v1"}, []serverAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}}})
}

// coreResourceList serves GET /api/v1.
func (g *gateway) coreResourceList(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	g.writeResourceList(w, r, "v1")
}

// apiGroupList serves GET /apis (metav1.APIGroupList).
func (g *gateway) apiGroupList(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	groups := g.discovery.groups()
	for i := range groups {
		groups[i].Kind, groups[i].APIVersion = "", "" // not repeated inside a list
	}
	g.writeValue(w, r, http.StatusOK, struct {
		Kind       string     `json:"kind"`
		APIVersion string     `json:"apiVersion"`
		Groups     []apiGroup `json:"groups"`
	}{"APIGroupList", "v1", groups})
}

// apiGroup serves GET /apis/{group}.
func (g *gateway) apiGroup(w http.ResponseWriter, r *http.Request, params map[string]string) {
	for _, grp := range g.discovery.groups() {
		if grp.Name == params["group"] {
			g.writeValue(w, r, http.StatusOK, grp)
			return
		}
	}
	g.writeError(w, r, newAPIError(ReasonNotFound, "the server could not find the requested resource"))
}

// groupResourceList serves GET /apis/{group}/{version}.
func (g *gateway) groupResourceList(w http.ResponseWriter, r *http.Request, params map[string]string) {
	g.writeResourceList(w, r, params["group"]+"/"+params["version"])
}

func (g *gateway) writeResourceList(w http.ResponseWriter, r *http.Request, gv string) {
	resources, ok := g.discovery.resources[gv]
	if !ok {
		g.writeError(w, r, newAPIError(ReasonNotFound, "the server could not find the requested resource"))
		return
	}
	g.writeValue(w, r, http.StatusOK, apiResourceList{Kind: "APIResourceList", APIVersion: "v1", GroupVersion: gv, Resources: resources})
}

// version serves GET /version (k8s.io/apimachinery/pkg/version.Info).
func (g *gateway) version(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	g.writeValue(w, r, http.StatusOK, map[string]string{
		"major":        KubernetesVersion.Major,
		"minor":        KubernetesVersion.Minor,
		"gitVersion":   KubernetesVersion.GitVersion,
		"gitCommit":    "",
		"gitTreeState": "",
		"buildDate":    "",
		"goVersion":    goruntime.Version(),
		"compiler":     goruntime.Compiler,
		"platform":     goruntime.GOOS + "/" + goruntime.GOARCH,
	})
}

// mimeOpenAPIv2Proto asks for the protobuf form of an OpenAPI v2 document
// (gnostic's openapi_v2.Document), which kubectl reads to validate manifests.
// Like kube-apiserver, the gateway labels the answer application/octet-stream
// (the requested type does not parse as a media type).
const mimeOpenAPIv2Proto = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

// openAPIProto is the embedded document in protobuf form, built once.
// protoc-gen-openapiv2 writes {"type": "object", "$ref": ...} for message
// fields, which kubectl's schema reader rejects ("definition reference can't
// have a type"): a reference keeps only its $ref here.
var openAPIProto = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		return nil, fmt.Errorf("parse the OpenAPI document: %w", err)
	}
	clean, err := json.Marshal(dropTypeBesideRef(doc))
	if err != nil {
		return nil, err
	}
	parsed, err := openapiv2.ParseDocument(clean)
	if err != nil {
		return nil, fmt.Errorf("parse the OpenAPI document: %w", err)
	}
	return proto.Marshal(parsed)
})

// dropTypeBesideRef removes "type" from every schema that has a "$ref".
func dropTypeBesideRef(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["$ref"]; ok {
			delete(v, "type")
		}
		for k, e := range v {
			v[k] = dropTypeBesideRef(e)
		}
	case []any:
		for i, e := range v {
			v[i] = dropTypeBesideRef(e)
		}
	}
	return v
}

// openAPI serves GET /openapi/v2: the document generated from the protos, as
// JSON, or as protobuf when asked (kubectl).
func (g *gateway) openAPI(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	body, ct := openapi.JSON, mimeJSON
	if strings.Contains(strings.Join(r.Header.Values("Accept"), ","), "application/com.github.proto-openapi.spec.v2") {
		b, err := openAPIProto()
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonInternalError, err.Error()))
			return
		}
		body, ct = b, "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeValue answers a plain Go value as JSON (or YAML when asked).
func (g *gateway) writeValue(w http.ResponseWriter, r *http.Request, code int, v any) {
	body, err := json.Marshal(v)
	if err == nil && g.outbound(r) == g.yaml {
		body, err = yaml.JSONToYAML(body)
	}
	if err != nil {
		g.writeError(w, r, newAPIError(ReasonInternalError, fmt.Sprintf("encode response: %v", err)))
		return
	}
	w.Header().Set("Content-Type", g.outbound(r).ContentType(nil))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
