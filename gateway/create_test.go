package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestCreateFromYAMLAndJSON(t *testing.T) {
	e := newEnv(t)
	created := e.createNginx()
	if got := get(created, "metadata", "name"); got != "nginx" {
		t.Errorf("name %v", got)
	}
	if got := get(created, "spec", "strategy", "rollingUpdate", "maxSurge"); got != "25%" {
		t.Errorf("maxSurge %v, want the string 25%%", got)
	}
	if got := get(created, "spec", "strategy", "rollingUpdate", "maxUnavailable"); got != json.Number("0") {
		t.Errorf("maxUnavailable %v (%T), want the number 0", got, got)
	}
	if got := get(created, "spec", "template", "spec", "containers", 0, "resources", "requests", "cpu"); got != "100m" {
		t.Errorf("cpu request %v", got)
	}

	manifest, err := yaml.YAMLToJSON([]byte(strings.ReplaceAll(nginxYAML, "name: nginx\n  labels", "name: nginx-json\n  labels")))
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-create&fieldValidation=Strict",
		string(manifest), "Content-Type: application/json")
	r.wantCode(t, http.StatusCreated)
	if ct := r.header.Get("Content-Type"); ct != mimeJSON {
		t.Errorf("Content-Type %q", ct)
	}
	if got := get(r.object(t), "metadata", "namespace"); got != "default" {
		t.Errorf("namespace %v", got)
	}

	list := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments", "")
	list.wantCode(t, http.StatusOK)
	lo := list.object(t)
	if lo["kind"] != "DeploymentList" || len(lo["items"].([]any)) != 2 {
		t.Errorf("list: %s", list.body)
	}
}

func TestGetRendersInt64AsNumbers(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	r := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/nginx", "")
	r.wantCode(t, http.StatusOK)
	obj := r.object(t)
	if got := get(obj, "metadata", "generation"); got != json.Number("1") {
		t.Errorf("metadata.generation %v (%T), want the number 1; body %s", got, got, r.body)
	}
	if got := get(obj, "status", "observedGeneration"); got != json.Number("1") {
		t.Errorf("status.observedGeneration %v (%T), want the number 1", got, got)
	}
	if got := get(obj, "spec", "replicas"); got != json.Number("3") {
		t.Errorf("spec.replicas %v", got)
	}
	if got := get(obj, "metadata", "creationTimestamp"); got != "2025-01-02T03:04:05Z" {
		t.Errorf("creationTimestamp %v", got)
	}
	if _, ok := obj["spec"].(map[string]any)["paused"]; ok {
		t.Errorf("unset field paused was emitted: %s", r.body)
	}
}

func TestGetAsYAML(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	r := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/nginx", "", "Accept: application/yaml")
	r.wantCode(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != mimeYAML {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(string(r.body), "generation: 1\n") || !strings.Contains(string(r.body), "name: nginx\n") {
		t.Errorf("YAML body:\n%s", r.body)
	}
}

func TestBadBodies(t *testing.T) {
	const path = "/apis/apps/v1/namespaces/default/deployments"
	tests := map[string]struct {
		contentType string
		body        string
		wantIn      []string
	}{
		"unknown nested field, JSON": {
			contentType: mimeJSON,
			body:        `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replica":3,"template":{"spec":{"containers":[{"name":"c","image":"i","imagePullPolicyy":"Always"}]}}}}`,
			wantIn: []string{
				`Deployment in version "v1" cannot be handled as a Deployment: strict decoding error:`,
				`unknown field "spec.replica"`,
				`unknown field "spec.template.spec.containers[0].imagePullPolicyy"`,
			},
		},
		"unknown field, YAML": {
			contentType: mimeYAML,
			body:        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  labelz: {}\n",
			wantIn:      []string{`unknown field "metadata.labelz"`},
		},
		"wrong type": {
			contentType: mimeJSON,
			body:        `{"spec":{"replicas":"three"}}`,
			wantIn:      []string{`Deployment in version "v1" cannot be handled as a Deployment:`, "replicas"},
		},
		"malformed JSON": {
			contentType: mimeJSON,
			body:        `{"metadata": {"name": "x",}}`,
			wantIn:      []string{"cannot be handled as a Deployment", "line 1"},
		},
		"malformed YAML": {
			contentType: "application/x-yaml",
			body:        "metadata:\n  name: x\n   bad: indent\n",
			wantIn:      []string{"error converting YAML to JSON", "line 3"},
		},
	}
	e := newEnv(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := e.do(http.MethodPost, path+"?fieldValidation=Strict", tc.body, "Content-Type: "+tc.contentType)
			s := r.wantStatus(t, http.StatusBadRequest, ReasonBadRequest)
			msg, _ := s["message"].(string)
			t.Logf("message: %s", msg)
			for _, want := range tc.wantIn {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
		})
	}
}

func TestCreateAnswers201AndOtherCallsNot(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	body := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/nginx", "").body
	r := e.do(http.MethodPut, "/apis/apps/v1/namespaces/default/deployments/nginx", string(body), "Content-Type: application/json")
	r.wantCode(t, http.StatusOK)
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`
	e.do(http.MethodPost, "/api/v1/namespaces/default/pods", pod, "Content-Type: application/json").wantCode(t, http.StatusCreated)
}
