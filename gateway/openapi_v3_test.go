package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type openAPIv3Discovery struct {
	Paths map[string]struct {
		URL string `json:"serverRelativeURL"`
	} `json:"paths"`
}

// TestOpenAPIv3Discovery: /openapi/v3 lists a document per served
// group/version that has upstream schemas, each at a URL with its hash; the
// document answers with its Etag and, at the hashed URL, as immutable.
func TestOpenAPIv3Discovery(t *testing.T) {
	e := newEnv(t)
	res := e.do(http.MethodGet, "/openapi/v3", "")
	if res.code != http.StatusOK {
		t.Fatalf("GET /openapi/v3: %d %s", res.code, res.body)
	}
	var disc openAPIv3Discovery
	if err := json.Unmarshal(res.body, &disc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"api/v1", "apis/apps/v1"} {
		p, ok := disc.Paths[want]
		if !ok {
			t.Fatalf("/openapi/v3 lacks %s: %s", want, res.body)
		}
		if !strings.HasPrefix(p.URL, "/openapi/v3/"+want+"?hash=") {
			t.Errorf("%s: serverRelativeURL %q", want, p.URL)
		}
		doc := e.do(http.MethodGet, p.URL, "")
		if doc.code != http.StatusOK || !strings.Contains(doc.header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d, Cache-Control %q", p.URL, doc.code, doc.header.Get("Cache-Control"))
		}
		if _, hash, _ := strings.Cut(p.URL, "hash="); doc.header.Get("Etag") != `"`+hash+`"` {
			t.Errorf("GET %s: Etag %q", p.URL, doc.header.Get("Etag"))
		}
	}
	// Only the fake deployment and node backends are deployed: no batch/v1.
	if _, ok := disc.Paths["apis/batch/v1"]; ok {
		t.Errorf("/openapi/v3 lists apis/batch/v1, which is not served")
	}
	if res := e.do(http.MethodGet, "/openapi/v3/apis/batch/v1", ""); res.code != http.StatusNotFound {
		t.Errorf("GET /openapi/v3/apis/batch/v1: %d, want 404", res.code)
	}
}

// TestOpenAPIv3Document: a group/version's document holds the upstream schema
// of each served kind with Kubernetes' extensions, and a PATCH operation per
// resource that names its kind and takes fieldValidation and the patch types
// (what kubectl looks for before it sends fieldValidation or a strategic merge
// patch).
func TestOpenAPIv3Document(t *testing.T) {
	e := newEnv(t)
	res := e.do(http.MethodGet, "/openapi/v3/apis/apps/v1", "")
	if res.code != http.StatusOK {
		t.Fatalf("GET: %d %s", res.code, res.body)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	dep, ok := doc.Components.Schemas["io.k8s.api.apps.v1.Deployment"]
	if !ok {
		t.Fatalf("no io.k8s.api.apps.v1.Deployment schema")
	}
	if gvk, _ := json.Marshal(dep["x-kubernetes-group-version-kind"]); string(gvk) != `[{"group":"apps","kind":"Deployment","version":"v1"}]` {
		t.Errorf("Deployment x-kubernetes-group-version-kind = %s", gvk)
	}
	containers := doc.Components.Schemas["io.k8s.api.core.v1.PodSpec"]["properties"].(map[string]any)["containers"].(map[string]any)
	if containers["x-kubernetes-list-type"] != "map" || containers["x-kubernetes-patch-merge-key"] != "name" {
		t.Errorf("PodSpec.containers lacks its list-map and patch extensions: %v", containers)
	}
	for _, name := range []string{"io.k8s.api.apps.v1.StatefulSet", "io.k8s.api.batch.v1.Job"} {
		if _, ok := doc.Components.Schemas[name]; ok {
			t.Errorf("schema %s of a kind not served is in the document", name)
		}
	}
	item, ok := doc.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
	if !ok {
		t.Fatalf("no deployment item path; paths: %v", keysOf(doc.Paths))
	}
	var patch struct {
		GVK        map[string]string `json:"x-kubernetes-group-version-kind"`
		Parameters []struct {
			Name, In string
		} `json:"parameters"`
		RequestBody struct {
			Content map[string]any `json:"content"`
		} `json:"requestBody"`
	}
	if err := json.Unmarshal(item["patch"], &patch); err != nil {
		t.Fatal(err)
	}
	if patch.GVK["kind"] != "Deployment" || patch.GVK["group"] != "apps" {
		t.Errorf("patch GVK %v", patch.GVK)
	}
	var params []string
	for _, p := range patch.Parameters {
		params = append(params, p.In+":"+p.Name)
	}
	if !strings.Contains(strings.Join(params, ","), "query:fieldValidation") {
		t.Errorf("patch parameters %v lack fieldValidation", params)
	}
	if _, ok := patch.RequestBody.Content["application/strategic-merge-patch+json"]; !ok {
		t.Errorf("patch request body lacks strategic merge patch: %v", patch.RequestBody.Content)
	}
	if _, ok := doc.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]; !ok {
		t.Errorf("no scale subresource path")
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestKubectlExplain runs the real kubectl explain against the gateway: it
// prints the upstream field docs from the OpenAPI v3 document.
func TestKubectlExplain(t *testing.T) {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	e := newEnv(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "--server", e.srv.URL, "--cache-dir", filepath.Join(dir, "cache"), "explain", "deployment.spec.strategy")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "none"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl explain: %v\n%s", err, out)
	}
	for _, want := range []string{"GROUP:      apps", "KIND:       Deployment", "FIELD: strategy <DeploymentStrategy>", "rollingUpdate\t<RollingUpdateDeployment>", "Recreate"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl explain lacks %q:\n%s", want, out)
		}
	}
}
