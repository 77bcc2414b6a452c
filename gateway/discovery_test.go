package gateway

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/podwarden/podwarden/proto/openapi"
)

func TestDiscovery(t *testing.T) {
	e := newEnv(t)

	api := e.do(http.MethodGet, "/api", "")
	api.wantCode(t, http.StatusOK)
	if o := api.object(t); o["kind"] != "APIVersions" || get(o, "versions", 0) != "v1" {
		t.Errorf("/api %s", api.body)
	}

	apis := e.do(http.MethodGet, "/apis", "")
	apis.wantCode(t, http.StatusOK)
	o := apis.object(t)
	if o["kind"] != "APIGroupList" || get(o, "groups", 0, "name") != "apiregistration.k8s.io" ||
		get(o, "groups", 1, "name") != "apps" || get(o, "groups", 1, "preferredVersion", "groupVersion") != "apps/v1" {
		t.Errorf("/apis %s", apis.body)
	}
	e.do(http.MethodGet, "/apis/apps", "").wantCode(t, http.StatusOK)
	e.do(http.MethodGet, "/apis/batch", "").wantStatus(t, http.StatusNotFound, ReasonNotFound)

	names := func(path string) []string {
		r := e.do(http.MethodGet, path, "")
		r.wantCode(t, http.StatusOK)
		var out []string
		for _, res := range r.object(t)["resources"].([]any) {
			out = append(out, get(res, "name").(string))
		}
		return out
	}
	apps := names("/apis/apps/v1")
	for _, want := range []string{"deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale"} {
		if !slices.Contains(apps, want) {
			t.Errorf("apps/v1 lacks %s: %v", want, apps)
		}
	}
	core := names("/api/v1")
	for _, want := range []string{"pods", "nodes", "replicationcontrollers", "replicationcontrollers/scale", "events"} {
		if !slices.Contains(core, want) {
			t.Errorf("v1 lacks %s: %v", want, core)
		}
	}
}

func TestDiscoveryListsOnlyDeployedBackends(t *testing.T) {
	g := &gateway{}
	g.discovery.add(coreResources...)
	if _, ok := g.discovery.resources["apps/v1"]; ok || len(g.discovery.groups()) != 0 {
		t.Errorf("apps/v1 listed without the deployment backend")
	}
}

func TestVersionAndOpenAPI(t *testing.T) {
	e := newEnv(t)
	v := e.do(http.MethodGet, "/version", "")
	v.wantCode(t, http.StatusOK)
	if o := v.object(t); o["major"] != "1" || o["gitVersion"] == "" {
		t.Errorf("/version %s", v.body)
	}
	doc := e.do(http.MethodGet, "/openapi/v2", "")
	doc.wantCode(t, http.StatusOK)
	if !bytes.Equal(doc.body, openapi.JSON) || doc.header.Get("Content-Type") != mimeJSON {
		t.Errorf("/openapi/v2 is not the embedded document")
	}
}
