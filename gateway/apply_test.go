package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const applyPath = "/apis/apps/v1/namespaces/default/deployments/web"

func webApply(replicas, image string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: ` + replicas + `
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ` + image + `
`
}

func (e *testEnv) apply(path, body, query string) result {
	e.t.Helper()
	return e.do(http.MethodPatch, path+"?"+query, body, "Content-Type: "+applyPatchType)
}

// managers lists the managedFields entries of obj as "manager/operation[/subresource]".
func managers(t *testing.T, obj map[string]any) []string {
	t.Helper()
	meta, _ := obj["metadata"].(map[string]any)
	entries, _ := meta["managedFields"].([]any)
	var out []string
	for _, e := range entries {
		m := e.(map[string]any)
		s := m["manager"].(string) + "/" + m["operation"].(string)
		if sub, _ := m["subresource"].(string); sub != "" {
			s += "/" + sub
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func ownedFields(t *testing.T, obj map[string]any, manager string) string {
	t.Helper()
	for _, e := range obj["metadata"].(map[string]any)["managedFields"].([]any) {
		m := e.(map[string]any)
		if m["manager"] == manager {
			b, _ := json.Marshal(m["fieldsV1"])
			return string(b)
		}
	}
	return ""
}

// TestApplyCreatesThenLeavesUnchanged: an apply of a missing object creates it
// (201) with the manager's fields recorded; the same apply again writes
// nothing, though it sets a field to its zero value, which the object's JSON
// leaves out.
func TestApplyCreatesThenLeavesUnchanged(t *testing.T) {
	e := newEnv(t)
	config := strings.Replace(webApply("2", "nginx:1.25"), "  replicas: 2\n", "  replicas: 2\n  minReadySeconds: 0\n", 1)
	res := e.apply(applyPath, config, "fieldManager=kubectl")
	res.wantCode(t, http.StatusCreated)
	obj := res.object(t)
	if got := managers(t, obj); strings.Join(got, ",") != "kubectl/Apply" {
		t.Fatalf("managedFields managers = %v, want kubectl/Apply", got)
	}
	owned := ownedFields(t, obj, "kubectl")
	for _, f := range []string{`"f:replicas":{}`, `"f:minReadySeconds":{}`, `"k:{\"name\":\"web\"}"`, `"f:image":{}`} {
		if !strings.Contains(owned, f) {
			t.Errorf("kubectl owns %s, lacking %s", owned, f)
		}
	}
	if strings.Contains(owned, `"f:status"`) {
		t.Errorf("an apply owns status: %s", owned)
	}
	rv := obj["metadata"].(map[string]any)["resourceVersion"]

	again := e.apply(applyPath, config, "fieldManager=kubectl")
	again.wantCode(t, http.StatusOK)
	if got := again.object(t)["metadata"].(map[string]any)["resourceVersion"]; got != rv {
		t.Errorf("the same apply again wrote: resourceVersion %v -> %v", rv, got)
	}
	if e.deploy.Updates != 0 {
		t.Errorf("the same apply again made %d updates", e.deploy.Updates)
	}
}

// TestApplyConflictAndForce: a second manager applying a field the first owns
// with another value gets kube-apiserver's 409 naming the field and its
// manager, and nothing changes; with force=true it takes the field over.
func TestApplyConflictAndForce(t *testing.T) {
	e := newEnv(t)
	e.apply(applyPath, webApply("2", "nginx:1.25"), "fieldManager=kubectl").wantCode(t, http.StatusCreated)

	res := e.apply(applyPath, webApply("5", "nginx:1.25"), "fieldManager=ci")
	st := res.wantStatus(t, http.StatusConflict, ReasonConflict)
	if msg := st["message"]; msg != `Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas` {
		t.Errorf("message %q", msg)
	}
	causes := st["details"].(map[string]any)["causes"].([]any)
	if c := causes[0].(map[string]any); c["reason"] != "FieldManagerConflict" || c["field"] != ".spec.replicas" {
		t.Errorf("causes %v", causes)
	}
	if e.deploy.Updates != 0 {
		t.Fatalf("a conflicting apply wrote")
	}

	forced := e.apply(applyPath, webApply("5", "nginx:1.25"), "fieldManager=ci&force=true")
	forced.wantCode(t, http.StatusOK)
	obj := forced.object(t)
	if r := fmt.Sprint(obj["spec"].(map[string]any)["replicas"]); r != "5" {
		t.Errorf("replicas %v after a forced apply", r)
	}
	if !strings.Contains(ownedFields(t, obj, "ci"), `"f:replicas"`) || strings.Contains(ownedFields(t, obj, "kubectl"), `"f:replicas"`) {
		t.Errorf("replicas not moved to ci: kubectl %s, ci %s", ownedFields(t, obj, "kubectl"), ownedFields(t, obj, "ci"))
	}
}

// TestApplyNeedsFieldManager: kube-apiserver's 422 on PatchOptions.
func TestApplyNeedsFieldManager(t *testing.T) {
	e := newEnv(t)
	st := e.apply(applyPath, webApply("2", "nginx"), "").wantStatus(t, http.StatusUnprocessableEntity, ReasonInvalid)
	if msg := st["message"]; msg != `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch` {
		t.Errorf("message %q", msg)
	}
	st = e.do(http.MethodPatch, applyPath+"?force=true", `{}`, "Content-Type: "+mergePatchType).wantStatus(t, http.StatusUnprocessableEntity, ReasonInvalid)
	if msg := st["message"]; msg != `PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch` {
		t.Errorf("message %q", msg)
	}
}

// TestApplyUnknownField: the applied configuration is checked against the
// kind's schema, as kube-apiserver does.
func TestApplyUnknownField(t *testing.T) {
	e := newEnv(t)
	res := e.apply(applyPath, strings.Replace(webApply("2", "nginx"), "  replicas: 2", "  replicas: 2\n  replicaz: 3", 1), "fieldManager=kubectl")
	if res.code != http.StatusInternalServerError || !strings.Contains(string(res.body), `.spec.replicaz: field not declared in schema`) {
		t.Errorf("apply with an unknown field: %d %s", res.code, res.body)
	}
}

// TestUpdatesRecordTheirManagers: a create, an update and a non-apply patch
// record their managers (fieldManager, or the User-Agent's product) beside an
// apply's, as Update operations.
func TestUpdatesRecordTheirManagers(t *testing.T) {
	e := newEnv(t)
	created := e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-create",
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}`,
		"Content-Type: application/json")
	created.wantCode(t, http.StatusCreated)
	if got := managers(t, created.object(t)); strings.Join(got, ",") != "kubectl-create/Update" {
		t.Fatalf("after create: %v", got)
	}
	patched := e.do(http.MethodPatch, applyPath, `{"metadata":{"labels":{"tier":"web"}}}`, "Content-Type: "+mergePatchType, "User-Agent: kubectl/v1.32.4 (linux/amd64) kubernetes/abc")
	patched.wantCode(t, http.StatusOK)
	if got := managers(t, patched.object(t)); strings.Join(got, ",") != "kubectl-create/Update,kubectl/Update" {
		t.Fatalf("after patch: %v", got)
	}
	if owned := ownedFields(t, patched.object(t), "kubectl"); !strings.Contains(owned, `"f:tier"`) {
		t.Errorf("kubectl owns %s after labelling", owned)
	}
	obj := patched.object(t)
	obj["spec"].(map[string]any)["replicas"] = 4
	delete(obj["metadata"].(map[string]any), "managedFields") // a client that knows nothing of them
	body, _ := json.Marshal(obj)
	put := e.do(http.MethodPut, applyPath+"?fieldManager=kubectl-edit", string(body), "Content-Type: application/json")
	put.wantCode(t, http.StatusOK)
	if got := managers(t, put.object(t)); strings.Join(got, ",") != "kubectl-create/Update,kubectl-edit/Update,kubectl/Update" {
		t.Fatalf("after update: %v", got)
	}
	if owned := ownedFields(t, put.object(t), "kubectl-edit"); !strings.Contains(owned, `"f:replicas"`) {
		t.Errorf("kubectl-edit owns %s after setting replicas", owned)
	}
}

// TestApplyDuplicateField: a duplicate key in the applied YAML is warned about
// by default (the last value wins) and refused under Strict.
func TestApplyDuplicateField(t *testing.T) {
	e := newEnv(t)
	config := strings.Replace(webApply("2", "nginx"), "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n", 1)
	strict := e.apply(applyPath, config, "fieldManager=kubectl&fieldValidation=Strict")
	st := strict.wantStatus(t, http.StatusBadRequest, ReasonBadRequest)
	if msg, _ := st["message"].(string); !strings.Contains(msg, `key "replicas" already set in map`) {
		t.Errorf("message %q", msg)
	}
	res := e.apply(applyPath, config, "fieldManager=kubectl")
	res.wantCode(t, http.StatusCreated)
	if w := res.header.Get("Warning"); !strings.Contains(w, `key \"replicas\" already set in map`) {
		t.Errorf("Warning %q", w)
	}
	if r := fmt.Sprint(res.object(t)["spec"].(map[string]any)["replicas"]); r != "3" {
		t.Errorf("replicas %s, want the last value 3", r)
	}
}

// TestApplyForceAsOne: force takes ParseBool's values, as kube-apiserver's
// query decoding does.
func TestApplyForceAsOne(t *testing.T) {
	e := newEnv(t)
	e.apply(applyPath, webApply("2", "nginx"), "fieldManager=kubectl").wantCode(t, http.StatusCreated)
	e.apply(applyPath, webApply("4", "nginx"), "fieldManager=ci&force=1").wantCode(t, http.StatusOK)
}

// TestUpdateOwnsNoZeroValues: a create that sets a field to the zero value its
// type leaves out (minReadySeconds: 0) does not own it, as kube-apiserver
// records the manager on the decoded object; so `kubectl apply` then `kubectl
// apply --server-side` of the same manifest does not conflict on it, and the
// applier owns it.
func TestUpdateOwnsNoZeroValues(t *testing.T) {
	e := newEnv(t)
	config := strings.Replace(webApply("2", "nginx:1.25"), "  replicas: 2\n", "  replicas: 2\n  minReadySeconds: 0\n  paused: false\n", 1)
	body, err := yaml.YAMLToJSON([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	created := e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-client-side-apply", string(body), "Content-Type: application/json")
	created.wantCode(t, http.StatusCreated)
	owned := ownedFields(t, created.object(t), "kubectl-client-side-apply")
	if !strings.Contains(owned, `"f:replicas"`) || strings.Contains(owned, `"f:minReadySeconds"`) || strings.Contains(owned, `"f:paused"`) {
		t.Errorf("the create owns %s: want replicas, not minReadySeconds or paused", owned)
	}
	res := e.apply(applyPath, config, "fieldManager=kubectl")
	res.wantCode(t, http.StatusOK)
	if owned := ownedFields(t, res.object(t), "kubectl"); !strings.Contains(owned, `"f:minReadySeconds"`) {
		t.Errorf("the applier owns %s, lacking minReadySeconds", owned)
	}
}

// TestScaleWritesRecordTheirManager: a write to /scale records its manager on
// the parent as kube-apiserver's scale subresources do: `kubectl scale` (a merge
// patch from kubectl's User-Agent) or a PUT of the Scale gets an Update entry with
// subresource "scale" owning .spec.replicas, which the creator no longer owns.
func TestScaleWritesRecordTheirManager(t *testing.T) {
	e := newEnv(t)
	e.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-create",
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}`,
		"Content-Type: application/json").wantCode(t, http.StatusCreated)
	e.do(http.MethodPatch, applyPath+"/scale", `{"spec":{"replicas":3}}`, "Content-Type: "+mergePatchType,
		"User-Agent: kubectl/v1.32.4 (linux/amd64) kubernetes/abc").wantCode(t, http.StatusOK)
	obj := e.do(http.MethodGet, applyPath, "").object(t)
	if got := managers(t, obj); strings.Join(got, ",") != "kubectl-create/Update,kubectl/Update/scale" {
		t.Fatalf("after kubectl scale: %v", got)
	}
	if owned := ownedFields(t, obj, "kubectl"); owned != `{"f:spec":{"f:replicas":{}}}` {
		t.Errorf("kubectl's scale entry owns %s", owned)
	}
	if owned := ownedFields(t, obj, "kubectl-create"); strings.Contains(owned, `"f:replicas"`) || !strings.Contains(owned, `"f:selector"`) {
		t.Errorf("the creator owns %s after the scale", owned)
	}

	e.do(http.MethodPut, applyPath+"/scale?fieldManager=hpa", `{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":4}}`,
		"Content-Type: application/json").wantCode(t, http.StatusOK)
	obj = e.do(http.MethodGet, applyPath, "").object(t)
	if got := managers(t, obj); strings.Join(got, ",") != "hpa/Update/scale,kubectl-create/Update" {
		t.Fatalf("after a PUT of the scale: %v", got)
	}
}
