package gateway

import (
	"net/http"
	"slices"
	"testing"
)

func TestNamespaces(t *testing.T) {
	e := newEnv(t)
	nsNames := func() []string {
		r := e.do(http.MethodGet, "/api/v1/namespaces", "")
		r.wantCode(t, http.StatusOK)
		var out []string
		for _, it := range r.object(t)["items"].([]any) {
			out = append(out, get(it, "metadata", "name").(string))
		}
		return out
	}
	if got := nsNames(); !slices.Equal(got, []string{"default", "kube-system"}) {
		t.Errorf("namespaces %v", got)
	}

	// `kubectl create namespace demo`
	r := e.do(http.MethodPost, "/api/v1/namespaces",
		`{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"demo","labels":{"team":"a"},"creationTimestamp":null},"spec":{},"status":{}}`,
		"Content-Type: application/json")
	r.wantCode(t, http.StatusCreated)
	ns := r.object(t)
	if get(ns, "status", "phase") != "Active" || get(ns, "metadata", "labels", "team") != "a" ||
		get(ns, "metadata", "labels", "kubernetes.io/metadata.name") != "demo" || get(ns, "metadata", "uid") == nil {
		t.Errorf("created %s", r.body)
	}
	e.do(http.MethodPost, "/api/v1/namespaces", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n", "Content-Type: application/yaml").
		wantStatus(t, http.StatusConflict, ReasonAlreadyExists)
	e.do(http.MethodPost, "/api/v1/namespaces", `{"metadata":{"name":"Bad_Name"}}`, "Content-Type: application/json").
		wantStatus(t, http.StatusUnprocessableEntity, ReasonInvalid)
	e.do(http.MethodPost, "/api/v1/namespaces", `{"metadata":{"name":"x"},"spc":{}}`, "Content-Type: application/json").
		wantStatus(t, http.StatusBadRequest, ReasonBadRequest)

	// A namespace springs into being on first use.
	e.createNginxIn("shop")
	if got := nsNames(); !slices.Equal(got, []string{"default", "demo", "kube-system", "shop"}) {
		t.Errorf("namespaces %v", got)
	}
	g := e.do(http.MethodGet, "/api/v1/namespaces/anything", "")
	g.wantCode(t, http.StatusOK)
	if o := g.object(t); o["kind"] != "Namespace" || get(o, "status", "phase") != "Active" {
		t.Errorf("get %s", g.body)
	}
}

func (e *testEnv) createNginxIn(ns string) {
	e.t.Helper()
	e.do(http.MethodPost, "/apis/apps/v1/namespaces/"+ns+"/deployments", nginxYAML, "Content-Type: application/yaml").wantCode(e.t, http.StatusCreated)
}
