package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"sigs.k8s.io/yaml"

	"github.com/podwarden/podwarden/shared/apierr"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Namespaces are stored by the core service (NamespaceService, served on
// /api/v1/namespaces by the generated routes). The gateway is where
// kube-apiserver's NamespaceLifecycle admission runs: a create in a namespace
// that does not exist is refused with 404, in one being deleted with 403; and
// the ServiceAccount admission's check: a pod created through the gateway must
// name an existing ServiceAccount ("default" when it names none).

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

// podServiceAccount is the ServiceAccount a pod runs as: spec.serviceAccountName,
// else the deprecated spec.serviceAccount, else "default".
func podServiceAccount(b createBody) string {
	switch {
	case b.Spec.ServiceAccountName != "":
		return b.Spec.ServiceAccountName
	case b.Spec.ServiceAccount != "":
		return b.Spec.ServiceAccount
	}
	return "default"
}

// admitServiceAccount is the ServiceAccount admission's check of a new pod, given
// its ServiceAccount as read (getErr from the read): nil admits it.
func admitServiceAccount(info requestInfo, objectName, sa string, getErr error) error {
	if getErr == nil {
		return nil
	}
	if apierr.IsNotFound(getErr) {
		getErr = fmt.Errorf("serviceaccount %q not found", sa)
	}
	return apierr.Forbidden(apierr.GroupResource{Resource: "pods"}, objectName,
		fmt.Errorf("error looking up service account %s/%s: %v", info.namespace, sa, apierr.Message(getErr)))
}

// namespaceLifecycle runs the admissions on every create in a namespace; without
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
		body := readCreateBody(r)
		resp, err := g.namespaceClient.GetNamespace(r.Context(), &corev1.GetNamespaceRequest{Name: info.namespace})
		if err := admitInNamespace(info, body.Metadata.Name, resp.GetNamespace(), err); err != nil {
			g.writeError(w, r, err)
			return
		}
		if info.group == "" && info.resource == "pods" && g.serviceAccountClient != nil {
			sa := podServiceAccount(body)
			_, err := g.serviceAccountClient.GetServiceAccount(r.Context(), &corev1.GetServiceAccountRequest{Namespace: info.namespace, Name: sa})
			if err := admitServiceAccount(info, body.Metadata.Name, sa, err); err != nil {
				g.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// createBody is what the admissions read of a created object.
type createBody struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		ServiceAccountName string `json:"serviceAccountName"`
		ServiceAccount     string `json:"serviceAccount"`
	} `json:"spec"`
}

// readCreateBody reads a JSON or YAML request body (protobuf ones are JSON by
// now), leaving it to be read again; its fields are empty when it says nothing.
func readCreateBody(r *http.Request) createBody {
	var obj createBody
	if r.Body == nil {
		return obj
	}
	data, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return obj
	}
	if j, err := yaml.YAMLToJSON(data); err == nil {
		data = j
	}
	_ = json.Unmarshal(data, &obj) // a body that is no object is the backend's to refuse
	return obj
}
