package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"sigs.k8s.io/yaml"

	"github.com/podwarden/podwarden/shared/apierr"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Namespaces are stored by the core service (NamespaceService, served on
// /api/v1/namespaces by the generated routes). The gateway is where
// kube-apiserver's NamespaceLifecycle admission runs: a create in a namespace
// that does not exist is refused with 404, in one being deleted with 403.

// namespaceCreate reports whether a request creates an object in a namespace (a
// POST on a namespaced collection; subresources such as a pod's eviction are left
// to their own checks).
func namespaceCreate(info requestInfo) bool {
	return info.isResourceRequest && info.verb == "create" && info.namespace != "" && info.subresource == "" &&
		info.name == "" && info.resource != "namespaces"
}

// admitInNamespace is NamespaceLifecycle's decision for a create in ns, given the
// namespace as read (nil with getErr when the read failed): nil admits it.
func admitInNamespace(info requestInfo, objectName string, ns *corev1.Namespace, getErr error) error {
	switch {
	case apierr.IsNotFound(getErr):
		return apierr.NotFound(apierr.GroupResource{Resource: "namespaces"}, info.namespace)
	case getErr != nil:
		return getErr
	case ns.GetStatus().GetPhase() == "Terminating" || ns.GetMetadata().GetDeletionTimestamp() != nil:
		return apierr.NamespaceTerminating(apierr.GroupResource{Group: info.group, Resource: info.resource}, objectName, info.namespace)
	}
	return nil
}

// namespaceLifecycle runs the admission on every create in a namespace; without
// a core service (none deployed) there are no namespaces to check against.
func (g *gateway) namespaceLifecycle(next http.Handler) http.Handler {
	if g.namespaceClient == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := parseRequestInfo(r)
		if !namespaceCreate(info) {
			next.ServeHTTP(w, r)
			return
		}
		resp, err := g.namespaceClient.GetNamespace(r.Context(), &corev1.GetNamespaceRequest{Name: info.namespace})
		if err := admitInNamespace(info, bodyObjectName(r), resp.GetNamespace(), err); err != nil {
			g.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bodyObjectName reads metadata.name from a JSON or YAML request body (protobuf
// ones are JSON by now), leaving the body to be read again; "" when there is none.
func bodyObjectName(r *http.Request) string {
	if r.Body == nil {
		return ""
	}
	data, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return ""
	}
	if j, err := yaml.YAMLToJSON(data); err == nil {
		data = j
	}
	var obj struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if json.Unmarshal(data, &obj) != nil {
		return ""
	}
	return obj.Metadata.Name
}
