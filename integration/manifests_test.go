package integration

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

var topLevelKind = regexp.MustCompile(`(?m)^kind: *(\w+)`)

// collectionPath is where a manifest of this kind is POSTed ("" for other services' kinds).
func collectionPath(doc []byte) string {
	m := topLevelKind.FindSubmatch(doc)
	if m == nil {
		return ""
	}
	switch string(m[1]) {
	case "Deployment":
		return "/apis/apps/v1/namespaces/default/deployments"
	case "ReplicaSet":
		return "/apis/apps/v1/namespaces/default/replicasets"
	case "ReplicationController":
		return "/api/v1/namespaces/default/replicationcontrollers"
	case "StatefulSet":
		return "/apis/apps/v1/namespaces/default/statefulsets"
	case "Service":
		return "/api/v1/namespaces/default/services"
	case "StorageClass":
		return storageClassesPath
	case "PodDisruptionBudget":
		return pdbsPath
	case "ResourceQuota":
		return "/api/v1/namespaces/default/resourcequotas"
	}
	return ""
}

// TestReferenceManifestsAccepted posts every reference manifest of the kinds this
// service owns, as YAML, unchanged, and waits for each workload to be fully ready.
func TestReferenceManifestsAccepted(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	files := []string{"deployment-nginx.yaml", "deployment-percent.yaml", "deployment-recreate.yaml", "deployment-rolling.yaml",
		"hpa-nginx.yaml", "replicaset-frontend.yaml", "replicationcontroller.yaml",
		"storageclass-my-storage-class.yaml", "statefulset-web.yaml", "statefulset-partition.yaml"}
	type want struct{ path, name string }
	var created []want
	for _, f := range files {
		for _, doc := range documents(readManifest(t, f)) {
			p := collectionPath(doc)
			if p == "" {
				continue // another service's kind (the HPA)
			}
			obj := a.expect(a.do(http.MethodPost, p, "application/yaml", doc), http.StatusCreated, f)
			if k := str(obj["kind"]); k != "Service" && k != "StorageClass" {
				created = append(created, want{p, str(path(obj, "metadata", "name"))})
			}
		}
	}
	for _, c := range created {
		eventually(t, 60*time.Second, c.name+" ready", func() (bool, string) {
			o := a.mustGet(c.path + "/" + c.name)
			spec, ready := num(path(o, "spec", "replicas")), num(path(o, "status", "readyReplicas"))
			return ready == spec, strings.TrimSpace(string(mustJSON(path(o, "status"))))
		})
	}
}

// TestInvalidManifestsRejected: each invalid reference manifest is rejected with a
// 422 Status naming the field, and nothing is stored.
func TestInvalidManifestsRejected(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	cases := map[string]struct {
		file  string
		field string
	}{
		"negative replicas":               {file: "invalid/negative-replicas.yaml", field: "spec.replicas"},
		"selector mismatch":               {file: "invalid/selector-mismatch.yaml", field: "spec.template.metadata.labels"},
		"surge and unavailable":           {file: "invalid/surge-and-unavailable-zero.yaml", field: "spec.strategy.rollingUpdate.maxUnavailable"},
		"statefulset without serviceName": {file: "invalid/statefulset-no-servicename.yaml", field: "spec.serviceName"},
		"statefulset negative partition":  {file: "invalid/statefulset-partition-negative.yaml", field: "spec.updateStrategy.rollingUpdate.partition"},
		"pdb with both bounds":            {file: "invalid/pdb-min-and-max.yaml", field: "spec"},
		"quota with a negative limit":     {file: "invalid/quota-negative-hard.yaml", field: "spec.hard[pods]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a := api{t: t, base: a.base}
			doc := readManifest(t, tc.file)
			st := a.expect(a.do(http.MethodPost, collectionPath(doc), "application/yaml", doc), http.StatusUnprocessableEntity, tc.file)
			if str(st["kind"]) != "Status" || str(st["reason"]) != "Invalid" || !strings.Contains(str(st["message"]), tc.field) {
				t.Fatalf("Status does not name %s: %s", tc.field, mustJSON(st))
			}
			found := false
			for _, c := range asList(path(st, "details", "causes")) {
				if str(path(c, "field")) == tc.field {
					found = true
				}
			}
			if !found {
				t.Fatalf("no cause for %s: %s", tc.field, mustJSON(st))
			}
		})
	}
	for _, p := range []string{"/apis/apps/v1/deployments", "/apis/apps/v1/statefulsets", "/api/v1/resourcequotas"} {
		if n := len(items(a.mustGet(p))); n != 0 {
			t.Fatalf("rejected manifests stored %d objects at %s", n, p)
		}
	}
}

// TestBadInput: each bad request gets a clear error and changes nothing.
func TestBadInput(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	good := readManifest(t, "deployment-nginx.yaml")
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", good), http.StatusCreated, "create")
	d := a.mustGet(deploymentsPath + "/nginx-deployment")
	a.expect(a.mergePatch(deploymentsPath+"/nginx-deployment", `{"metadata":{"labels":{"touched":"yes"}}}`), http.StatusOK, "touch")

	cases := map[string]struct {
		method, path, ctype, body string
		code                      int
		contains                  string
	}{
		"malformed json": {method: "POST", path: deploymentsPath, ctype: "application/json", body: `{"kind":`, code: 400},
		"malformed yaml": {method: "POST", path: deploymentsPath, ctype: "application/yaml", body: "kind: [", code: 400},
		"unknown field": {method: "POST", path: deploymentsPath + "?fieldValidation=Strict", ctype: "application/json", code: 400, contains: "replicaz",
			body: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicaz":1}}`},
		"wrong kind for path": {method: "POST", path: deploymentsPath, ctype: "application/json", code: 400, contains: "ReplicaSet",
			body: `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"x"}}`},
		"name not DNS-1123": {method: "POST", path: deploymentsPath, ctype: "application/json", code: 422, contains: "metadata.name",
			body: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"Bad_Name"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`},
		"duplicate": {method: "POST", path: deploymentsPath, ctype: "application/yaml", body: string(good), code: 409, contains: "already exists"},
		"stale resourceVersion": {method: "PUT", path: deploymentsPath + "/nginx-deployment", ctype: "application/json", code: 409,
			body: string(mustJSON(d))},
		"selector change": {method: "PATCH", path: deploymentsPath + "/nginx-deployment", ctype: "application/merge-patch+json", code: 422,
			contains: "spec.selector", body: `{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}`},
		"missing": {method: "GET", path: deploymentsPath + "/nope", code: 404, contains: "not found"},
		"too large": {method: "POST", path: deploymentsPath, ctype: "application/json", code: 413,
			body: `{"metadata":{"name":"x","annotations":{"a":"` + strings.Repeat("x", 4<<20) + `"}}}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := a.do(tc.method, tc.path, tc.ctype, []byte(tc.body))
			if r.Code != tc.code {
				t.Fatalf("got %d, want %d: %.300s", r.Code, tc.code, r.Body)
			}
			st := r.JSON()
			if str(st["kind"]) != "Status" || !strings.Contains(string(r.Body), tc.contains) {
				t.Fatalf("not a Status naming %q: %.500s", tc.contains, r.Body)
			}
		})
	}
	after := a.mustGet(deploymentsPath + "/nginx-deployment")
	if str(path(after, "spec", "selector", "matchLabels", "app")) != "nginx" || len(items(a.mustGet("/apis/apps/v1/deployments"))) != 1 {
		t.Fatal("a rejected request changed something")
	}
}
