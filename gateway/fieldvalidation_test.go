package gateway

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestFieldProblems(t *testing.T) {
	tests := map[string]struct {
		body      string
		problems  []string
		wantClean string
	}{
		"clean": {
			body:      `{"spec":{"replicas":2}}`,
			wantClean: `{"spec":{"replicas":2}}`,
		},
		"unknown fields at every depth": {
			body:      `{"spec":{"foo":1,"template":{"spec":{"containers":[{"name":"c","imagee":"x"}]}}},"bar":true}`,
			problems:  []string{`unknown field "bar"`, `unknown field "spec.foo"`, `unknown field "spec.template.spec.containers[0].imagee"`},
			wantClean: `{"spec":{"template":{"spec":{"containers":[{"name":"c"}]}}}}`,
		},
		"duplicate field": {
			body:      `{"spec":{"replicas":1,"replicas":2}}`,
			problems:  []string{`duplicate field "spec.replicas"`},
			wantClean: `{"spec":{"replicas":2}}`,
		},
		"map keys are not fields": {
			body:      `{"metadata":{"labels":{"any":"thing"}}}`,
			wantClean: `{"metadata":{"labels":{"any":"thing"}}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clean, problems, err := fieldProblems([]byte(tc.body), deploymentDesc)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(problems)
			if !slices.Equal(problems, tc.problems) {
				t.Errorf("problems %q, want %q", problems, tc.problems)
			}
			if string(clean) != tc.wantClean {
				t.Errorf("clean %s, want %s", clean, tc.wantClean)
			}
		})
	}
}

const deploymentWithUnknown = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"foo":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}`

// TestFieldValidationOnCreate: Warn (the default) creates the object without
// the unknown field and says so in a Warning header; Ignore says nothing;
// Strict refuses it naming the field; an unknown directive is kube-apiserver's 422.
func TestFieldValidationOnCreate(t *testing.T) {
	const coll = "/apis/apps/v1/namespaces/default/deployments"
	tests := map[string]struct {
		query       string
		code        int
		warning     string
		messageHas  string
		createsName bool
	}{
		"default warns": {code: http.StatusCreated, warning: `299 - "unknown field \"spec.foo\""`, createsName: true},
		"Warn":          {query: "?fieldValidation=Warn", code: http.StatusCreated, warning: `299 - "unknown field \"spec.foo\""`, createsName: true},
		"Ignore":        {query: "?fieldValidation=Ignore", code: http.StatusCreated, createsName: true},
		"Strict":        {query: "?fieldValidation=Strict", code: http.StatusBadRequest, messageHas: `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"`},
		"bad directive": {query: "?fieldValidation=Loud", code: http.StatusUnprocessableEntity, messageHas: `CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(http.MethodPost, coll+tc.query, deploymentWithUnknown, "Content-Type: application/json")
			if res.code != tc.code {
				t.Fatalf("code %d, want %d: %s", res.code, tc.code, res.body)
			}
			if got := strings.Join(res.header.Values("Warning"), "|"); got != tc.warning {
				t.Errorf("Warning %q, want %q", got, tc.warning)
			}
			if tc.messageHas != "" {
				var st struct{ Message string }
				_ = json.Unmarshal(res.body, &st)
				if !strings.Contains(st.Message, tc.messageHas) {
					t.Errorf("message %q lacks %s", st.Message, tc.messageHas)
				}
			}
			_, stored := e.deploy.objs["default/web"]
			if stored != tc.createsName {
				t.Errorf("stored %v, want %v", stored, tc.createsName)
			}
		})
	}
}

// TestFieldValidationOnPatch: a patch adding an unknown field is applied
// without it and warned about by default (kube-apiserver's behaviour, where
// the gateway used to refuse it), and refused with 422 under Strict.
func TestFieldValidationOnPatch(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	res := e.do(http.MethodPatch, nginxPath, `{"metadata":{"labels":{"tier":"web"}},"spec":{"replicaz":3}}`, "Content-Type: "+strategicMergePatchType)
	res.wantCode(t, http.StatusOK)
	if got := res.header.Get("Warning"); got != `299 - "unknown field \"spec.replicaz\""` {
		t.Errorf("Warning %q", got)
	}
	if labels := res.object(t)["metadata"].(map[string]any)["labels"].(map[string]any); labels["tier"] != "web" {
		t.Errorf("the known part of the patch was not applied: %v", labels)
	}
	strict := e.do(http.MethodPatch, nginxPath+"?fieldValidation=Strict", `{"spec":{"replicaz":3}}`, "Content-Type: "+mergePatchType)
	st := strict.wantStatus(t, http.StatusUnprocessableEntity, ReasonInvalid)
	if msg, _ := st["message"].(string); !strings.Contains(msg, `strict decoding error: unknown field "spec.replicaz"`) {
		t.Errorf("message %q", msg)
	}
	dup := e.do(http.MethodPatch, nginxPath, `{"metadata":{"labels":{"a":"1","a":"2"}}}`, "Content-Type: "+mergePatchType)
	dup.wantCode(t, http.StatusOK)
	if got := dup.header.Get("Warning"); got != `299 - "duplicate field \"metadata.labels.a\""` {
		t.Errorf("Warning %q", got)
	}
}

// TestFieldValidationYAMLDuplicate: a duplicate key in a YAML body is warned
// about in the YAML decoder's words, and refused under Strict.
func TestFieldValidationYAMLDuplicate(t *testing.T) {
	e := newEnv(t)
	const coll = "/apis/apps/v1/namespaces/default/deployments"
	body := strings.Replace(webApply("2", "nginx"), "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n", 1)
	strict := e.do(http.MethodPost, coll+"?fieldValidation=Strict", body, "Content-Type: application/yaml")
	st := strict.wantStatus(t, http.StatusBadRequest, ReasonBadRequest)
	if msg, _ := st["message"].(string); !strings.Contains(msg, `strict decoding error: line 8: key "replicas" already set in map`) {
		t.Errorf("message %q", msg)
	}
	res := e.do(http.MethodPost, coll, body, "Content-Type: application/yaml")
	res.wantCode(t, http.StatusCreated)
	if w := res.header.Get("Warning"); w != `299 - "line 8: key \"replicas\" already set in map"` {
		t.Errorf("Warning %q", w)
	}
}
