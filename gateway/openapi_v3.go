package gateway

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	openapiv3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/gateway/internal/kubeopenapi"
)

// OpenAPI v3, as kube-apiserver serves it (k8s.io/kube-openapi/pkg/handler3):
// GET /openapi/v3 lists a document per group/version with a hash of its
// content, and GET /openapi/v3/apis/apps/v1?hash=... serves it (immutable when
// the hash matches). The documents hold kube-apiserver's own schemas of the
// kinds served (internal/kubeopenapi), so `kubectl explain` prints their field
// docs and kubectl finds the fieldValidation parameter and patch types of each
// resource there, as against a cluster.

// mimeOpenAPIv3Proto asks for a document in gnostic's protobuf form.
const mimeOpenAPIv3Proto = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"

// openAPIv3Doc is one served group/version document.
type openAPIv3Doc struct {
	json []byte
	hash string
	pb   func() ([]byte, error)
}

// openAPIv3Docs are the documents by path ("apis/apps/v1", "api/v1"), built
// once from discovery (which is complete once NewHandler has registered every
// backend).
type openAPIv3Docs struct {
	once sync.Once
	docs map[string]*openAPIv3Doc
	err  error
}

func (d *openAPIv3Docs) get(disc *discovery) (map[string]*openAPIv3Doc, error) {
	d.once.Do(func() { d.docs, d.err = buildOpenAPIv3(disc) })
	return d.docs, d.err
}

// openAPIv3Resources turns discovery's resources into the document builder's.
func openAPIv3Resources(rs []apiResource) []kubeopenapi.Resource {
	out := make([]kubeopenapi.Resource, 0, len(rs))
	for _, r := range rs {
		out = append(out, kubeopenapi.Resource{Name: r.Name, Namespaced: r.Namespaced, Group: r.Group, Version: r.Version, Kind: r.Kind, Verbs: r.Verbs})
	}
	return out
}

func buildOpenAPIv3(disc *discovery) (map[string]*openAPIv3Doc, error) {
	docs := map[string]*openAPIv3Doc{}
	for gv, rs := range disc.resources {
		b, ok, err := kubeopenapi.Document(gv, openAPIv3Resources(rs))
		if err != nil {
			return nil, fmt.Errorf("openapi v3 document of %s: %w", gv, err)
		}
		if !ok {
			continue // a group/version of podwarden's own, with no upstream schema
		}
		path := "apis/" + gv
		if gv == "v1" {
			path = "api/v1"
		}
		docs[path] = &openAPIv3Doc{
			json: b,
			hash: fmt.Sprintf("%X", sha512.Sum512(b)),
			pb: sync.OnceValues(func() ([]byte, error) {
				parsed, err := openapiv3.ParseDocument(b)
				if err != nil {
					return nil, err
				}
				return proto.Marshal(parsed)
			}),
		}
	}
	return docs, nil
}

// openAPIv3Discovery serves GET /openapi/v3 (kube-openapi's handler3.OpenAPIV3Discovery).
func (g *gateway) openAPIv3Discovery(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	docs, err := g.openAPIv3.get(&g.discovery)
	if err != nil {
		g.writeError(w, r, newAPIError(ReasonInternalError, err.Error()))
		return
	}
	type ref struct {
		URL string `json:"serverRelativeURL"`
	}
	paths := map[string]ref{}
	for _, p := range slices.Sorted(maps.Keys(docs)) {
		paths[p] = ref{URL: "/openapi/v3/" + p + "?hash=" + docs[p].hash}
	}
	body, err := json.Marshal(map[string]any{"paths": paths})
	if err != nil {
		g.writeError(w, r, newAPIError(ReasonInternalError, err.Error()))
		return
	}
	w.Header().Set("Content-Type", mimeJSON)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// openAPIv3Document serves GET /openapi/v3/api/v1 and /openapi/v3/apis/{group}/{version}.
func (g *gateway) openAPIv3Document(w http.ResponseWriter, r *http.Request, params map[string]string) {
	docs, err := g.openAPIv3.get(&g.discovery)
	if err != nil {
		g.writeError(w, r, newAPIError(ReasonInternalError, err.Error()))
		return
	}
	path := "api/v1"
	if params["group"] != "" {
		path = "apis/" + params["group"] + "/" + params["version"]
	}
	doc, ok := docs[path]
	if !ok {
		g.writeError(w, r, newAPIError(ReasonNotFound, "the server could not find the requested resource"))
		return
	}
	body, ct := doc.json, mimeJSON
	if strings.Contains(strings.Join(r.Header.Values("Accept"), ","), mimeOpenAPIv3Proto) {
		if body, err = doc.pb(); err != nil {
			g.writeError(w, r, newAPIError(ReasonInternalError, err.Error()))
			return
		}
		ct = mimeOpenAPIv3Proto
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Etag", `"`+doc.hash+`"`)
	if hash := r.URL.Query().Get("hash"); hash != "" && hash == doc.hash {
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", "Fri, 01 Jan 2100 00:00:00 GMT") // kube-openapi: far in the future
	} else {
		w.Header().Set("Cache-Control", "no-cache, private")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
