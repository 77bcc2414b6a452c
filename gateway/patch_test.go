package gateway

import (
	"encoding/json"
	"net/http"
	"testing"
)

const nginxPath = "/apis/apps/v1/namespaces/default/deployments/nginx"

func TestMergePatch(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	r := e.do(http.MethodPatch, nginxPath,
		`{"metadata":{"labels":{"tier":null,"env":"prod"}},"spec":{"replicas":5}}`,
		"Content-Type: application/merge-patch+json")
	r.wantCode(t, http.StatusOK)
	obj := r.object(t)
	labels, _ := get(obj, "metadata", "labels").(map[string]any)
	if _, ok := labels["tier"]; ok || labels["env"] != "prod" || labels["app"] != "nginx" {
		t.Errorf("labels %v: want tier removed, env added, app kept", labels)
	}
	if got := get(obj, "spec", "replicas"); got != json.Number("5") {
		t.Errorf("replicas %v", got)
	}
	if got := get(obj, "metadata", "generation"); got != json.Number("2") {
		t.Errorf("generation %v, want 2 after a spec change", got)
	}
	// The stored object changed too.
	stored := e.do(http.MethodGet, nginxPath, "").object(t)
	if got := get(stored, "spec", "replicas"); got != json.Number("5") {
		t.Errorf("stored replicas %v", got)
	}
}

func TestJSONPatch(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	r := e.do(http.MethodPatch, nginxPath,
		`[{"op":"test","path":"/spec/replicas","value":3},{"op":"replace","path":"/spec/replicas","value":4},{"op":"add","path":"/metadata/annotations","value":{"note":"x"}}]`,
		"Content-Type: application/json-patch+json")
	r.wantCode(t, http.StatusOK)
	obj := r.object(t)
	if get(obj, "spec", "replicas") != json.Number("4") || get(obj, "metadata", "annotations", "note") != "x" {
		t.Errorf("patched: %s", r.body)
	}

	// A failing test operation changes nothing: 422 Invalid.
	e.do(http.MethodPatch, nginxPath, `[{"op":"test","path":"/spec/replicas","value":99}]`,
		"Content-Type: application/json-patch+json").wantStatus(t, http.StatusUnprocessableEntity, ReasonInvalid)
	// A malformed patch: 400.
	e.do(http.MethodPatch, nginxPath, `{"op":"replace"}`, "Content-Type: application/json-patch+json").
		wantStatus(t, http.StatusBadRequest, ReasonBadRequest)
}

func TestStrategicMergePatchMergesListsByKey(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	// What `kubectl set image deployment/nginx nginx=nginx:1.16.1` sends.
	r := e.do(http.MethodPatch, nginxPath,
		`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.16.1"}]}}}}`,
		"Content-Type: application/strategic-merge-patch+json")
	r.wantCode(t, http.StatusOK)
	c := get(r.object(t), "spec", "template", "spec", "containers", 0)
	if get(c, "image") != "nginx:1.16.1" || get(c, "ports", 0, "containerPort") != json.Number("80") {
		t.Errorf("container %v: want the new image and the ports kept", c)
	}

	// What `kubectl apply` sends for a changed container list: directives included.
	r = e.do(http.MethodPatch, nginxPath,
		`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],"containers":[{"name":"sidecar","image":"busybox"}]}}}}`,
		"Content-Type: application/strategic-merge-patch+json")
	r.wantCode(t, http.StatusOK)
	cs, _ := get(r.object(t), "spec", "template", "spec", "containers").([]any)
	if len(cs) != 2 || get(cs, 0, "name") != "nginx" || get(cs, 1, "name") != "sidecar" {
		t.Errorf("containers %v", cs)
	}
}

func TestPatchScaleSubresource(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	// `kubectl scale deployment nginx --replicas=0`
	r := e.do(http.MethodPatch, nginxPath+"/scale", `{"spec":{"replicas":0}}`, "Content-Type: application/merge-patch+json")
	r.wantCode(t, http.StatusOK)
	if get(r.object(t), "kind") != "Scale" {
		t.Errorf("answer %s", r.body)
	}
	if got := get(e.do(http.MethodGet, nginxPath, "").object(t), "spec", "replicas"); got != json.Number("0") {
		t.Errorf("replicas %v, want 0", got)
	}
}

func TestPatchRetriesConflicts(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	e.deploy.mu.Lock()
	e.deploy.conflicts = 2
	e.deploy.mu.Unlock()
	r := e.do(http.MethodPatch, nginxPath, `{"spec":{"replicas":7}}`, "Content-Type: application/merge-patch+json")
	r.wantCode(t, http.StatusOK)
	if got := get(r.object(t), "spec", "replicas"); got != json.Number("7") {
		t.Errorf("replicas %v", got)
	}
	e.deploy.mu.Lock()
	left := e.deploy.conflicts
	e.deploy.mu.Unlock()
	if left != 0 {
		t.Errorf("%d conflicts left: the patch did not go through them", left)
	}

	// A patch that names a resourceVersion makes it a precondition: no retry.
	e.deploy.mu.Lock()
	e.deploy.conflicts = 1
	e.deploy.mu.Unlock()
	e.do(http.MethodPatch, nginxPath, `{"metadata":{"resourceVersion":"1"},"spec":{"replicas":8}}`,
		"Content-Type: application/merge-patch+json").wantStatus(t, http.StatusConflict, ReasonConflict)
}

func TestPatchWithoutChangeStillAnswersTheObject(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	r := e.do(http.MethodPatch, nginxPath, `{"spec":{"replicas":3}}`, "Content-Type: application/merge-patch+json")
	r.wantCode(t, http.StatusOK)
	if get(r.object(t), "metadata", "name") != "nginx" {
		t.Errorf("answer %s", r.body)
	}
	if n := e.deploy.updates(); n != 0 {
		t.Errorf("a no-op patch wrote %d times", n)
	}
}

func TestPatchErrors(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	tests := map[string]struct {
		path, contentType, body string
		code                    int
		reason                  string
	}{
		"missing object":      {path: "/apis/apps/v1/namespaces/default/deployments/nope", contentType: mergePatchType, body: `{}`, code: http.StatusNotFound, reason: ReasonNotFound},
		"unsupported type":    {path: nginxPath, contentType: "application/apply-patch+cbor", body: `{}`, code: http.StatusUnsupportedMediaType, reason: ReasonUnsupportedMediaType},
		"not an object":       {path: nginxPath, contentType: mergePatchType, body: `[1]`, code: http.StatusBadRequest, reason: ReasonBadRequest},
		"unknown field added": {path: nginxPath + "?fieldValidation=Strict", contentType: mergePatchType, body: `{"spec":{"replicaz":1}}`, code: http.StatusUnprocessableEntity, reason: ReasonInvalid},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e.do(http.MethodPatch, tc.path, tc.body, "Content-Type: "+tc.contentType).wantStatus(t, tc.code, tc.reason)
		})
	}
}
