package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

const daemonSetsPath = "/apis/apps/v1/namespaces/default/daemonsets"

// dsPodsByNode lists the live (not terminating) pods matching selector by node
// (spec.nodeName, or "" while unbound).
func dsPodsByNode(t *testing.T, a api, selector string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, p := range items(a.mustGet("/api/v1/namespaces/default/pods?labelSelector=" + url.QueryEscape(selector))) {
		if path(p, "metadata", "deletionTimestamp") != nil {
			continue
		}
		n := str(path(p, "spec", "nodeName"))
		out[n] = append(out[n], p)
	}
	return out
}

func dsPodReady(p map[string]any) bool {
	for _, c := range asList(path(p, "status", "conditions")) {
		if str(path(c, "type")) == "Ready" {
			return str(path(c, "status")) == "True"
		}
	}
	return false
}

func sortedNodeNames(m map[string][]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dsOnExactly waits until the DaemonSet has exactly one ready pod on each of
// nodes and none elsewhere, with a status that says so.
func dsOnExactly(t *testing.T, a api, name, selector string, nodes ...string) {
	t.Helper()
	sort.Strings(nodes)
	want := strings.Join(nodes, ",")
	eventually(t, 60*time.Second, fmt.Sprintf("daemonset %s on exactly %s", name, want), func() (bool, string) {
		byNode := dsPodsByNode(t, a, selector)
		ok := strings.Join(sortedNodeNames(byNode), ",") == want
		for _, pods := range byNode {
			ok = ok && len(pods) == 1 && dsPodReady(pods[0])
		}
		ds := a.mustGet(daemonSetsPath + "/" + name)
		st := path(ds, "status")
		n := len(nodes)
		ok = ok && num(path(st, "desiredNumberScheduled")) == n && num(path(st, "currentNumberScheduled")) == n &&
			num(path(st, "numberReady")) == n && num(path(st, "numberAvailable")) == n && num(path(st, "updatedNumberScheduled")) == n &&
			num(path(st, "numberMisscheduled")) == 0 && num(path(st, "observedGeneration")) == num(path(ds, "metadata", "generation"))
		return ok, fmt.Sprintf("pods on %v; status %v", sortedNodeNames(byNode), st)
	})
}

func dsJSON(name, image string, extraSpec, podSpec string) string {
	return fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":%q},"spec":{%s"selector":{"matchLabels":{"app":%q}},
"template":{"metadata":{"labels":{"app":%q}},"spec":{%s"containers":[{"name":"c","image":%q}]}}}}`, name, extraSpec, name, name, podSpec, image)
}

func postNode(t *testing.T, a api, name string) {
	t.Helper()
	a.expect(a.do(http.MethodPost, "/api/v1/nodes", "application/json",
		[]byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":%q}}`, name))), http.StatusCreated, "add node "+name)
}

// TestDaemonSetUserStory follows the user story through the REST gateway:
// tolerations, nodes coming and going, node labels and a nodeSelector, a NoExecute
// taint evicting, a rolling update, history and rollback, OnDelete.
func TestDaemonSetUserStory(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	all := []string{"control-plane", "node-1", "node-2"}

	// One pod on every node, the tainted control plane included (it tolerates the taint).
	ds := a.expect(a.do(http.MethodPost, daemonSetsPath, "application/yaml", readManifest(t, "daemonset-tolerations.yaml")), http.StatusCreated, "create")
	if ru := path(ds, "spec", "updateStrategy", "rollingUpdate"); num(path(ru, "maxUnavailable")) != 1 || num(path(ru, "maxSurge")) != 0 ||
		num(path(ds, "spec", "revisionHistoryLimit")) != 10 {
		t.Fatalf("defaults: %s", mustJSON(path(ds, "spec")))
	}
	dsOnExactly(t, a, "daemonset-nginx", "app=nginx-ds", all...)
	for _, pods := range dsPodsByNode(t, a, "app=nginx-ds") {
		p := pods[0]
		name := str(path(p, "metadata", "name"))
		if !strings.HasPrefix(name, "daemonset-nginx-") || len(name) != len("daemonset-nginx-")+5 {
			t.Errorf("pod name %q is not daemonset-nginx-<5 chars>", name)
		}
		if str(path(p, "metadata", "labels", "controller-revision-hash")) == "" {
			t.Errorf("pod %s has no controller-revision-hash", name)
		}
	}

	// Without the toleration, none on the control plane.
	a.expect(a.postJSON(daemonSetsPath, rawJSON(dsJSON("plain", "busybox", "", ""))), http.StatusCreated, "create plain")
	dsOnExactly(t, a, "plain", "app=plain", "node-1", "node-2")
	a.expect(a.do(http.MethodDelete, daemonSetsPath+"/plain", "", nil), http.StatusOK, "delete plain")
	eventually(t, 30*time.Second, "plain's pods gone", func() (bool, string) {
		n := len(dsPodsByNode(t, a, "app=plain"))
		return n == 0, fmt.Sprint(n)
	})

	// A new node gets a pod; a removed node's pod is gone.
	postNode(t, a, "node-9")
	dsOnExactly(t, a, "daemonset-nginx", "app=nginx-ds", append(all, "node-9")...)
	a.expect(a.do(http.MethodDelete, "/api/v1/nodes/node-9", "", nil), http.StatusOK, "delete node-9")
	dsOnExactly(t, a, "daemonset-nginx", "app=nginx-ds", all...)

	// Label node-1 disktype=ssd: the nodeSelector DaemonSet runs only there; unlabel: it goes.
	a.expect(a.mergePatch("/api/v1/nodes/node-1", `{"metadata":{"labels":{"disktype":"ssd"}}}`), http.StatusOK, "label node-1")
	a.expect(a.do(http.MethodPost, daemonSetsPath, "application/yaml", readManifest(t, "daemonset-nodeselector.yaml")), http.StatusCreated, "create node-exporter")
	dsOnExactly(t, a, "node-exporter", "app=node-exporter", "node-1")
	a.expect(a.mergePatch("/api/v1/nodes/node-1", `{"metadata":{"labels":{"disktype":null}}}`), http.StatusOK, "unlabel node-1")
	dsOnExactly(t, a, "node-exporter", "app=node-exporter")

	// Taint node-2 maintenance=true:NoExecute: the daemon pod there is evicted (and
	// not replaced), a Deployment's pods move to other nodes, and a pod that
	// tolerates the taint for 4 seconds goes after that long.
	a.expect(a.postJSON(deploymentsPath, rawJSON(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":4,
"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`)), http.StatusCreated, "create web")
	rolledOut(t, a, "web", 4)
	if len(dsPodsByNode(t, a, "app=web")["node-2"]) == 0 {
		t.Fatalf("no web pod on node-2 to evict: %v", sortedNodeNames(dsPodsByNode(t, a, "app=web")))
	}
	a.expect(a.postJSON("/api/v1/namespaces/default/pods", rawJSON(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"patient","labels":{"app":"patient"}},
"spec":{"nodeName":"node-2","tolerations":[{"key":"maintenance","operator":"Exists","effect":"NoExecute","tolerationSeconds":4}],"containers":[{"name":"c","image":"nginx"}]}}`)), http.StatusCreated, "create patient pod")
	eventually(t, 30*time.Second, "patient pod ready", func() (bool, string) {
		p := a.get("/api/v1/namespaces/default/pods/patient").JSON()
		return dsPodReady(p), fmt.Sprint(path(p, "status", "phase"))
	})
	tainted := time.Now()
	a.expect(a.mergePatch("/api/v1/nodes/node-2", `{"spec":{"taints":[{"key":"maintenance","value":"true","effect":"NoExecute"}]}}`), http.StatusOK, "taint node-2")
	dsOnExactly(t, a, "daemonset-nginx", "app=nginx-ds", "control-plane", "node-1")
	rolledOut(t, a, "web", 4)
	eventually(t, 30*time.Second, "web pods off node-2", func() (bool, string) {
		byNode := dsPodsByNode(t, a, "app=web")
		return len(byNode["node-2"]) == 0 && len(byNode["node-1"]) == 4, fmt.Sprint(sortedNodeNames(byNode))
	})
	eventually(t, 30*time.Second, "patient pod evicted", func() (bool, string) {
		r := a.get("/api/v1/namespaces/default/pods/patient")
		return r.Code == http.StatusNotFound || path(r.JSON(), "metadata", "deletionTimestamp") != nil, fmt.Sprint(r.Code)
	})
	if waited := time.Since(tainted); waited < 3*time.Second {
		t.Fatalf("the pod tolerating the taint for 4s was evicted after %v", waited)
	}
	a.expect(a.mergePatch("/api/v1/nodes/node-2", `{"spec":{"taints":null}}`), http.StatusOK, "untaint node-2")
	dsOnExactly(t, a, "daemonset-nginx", "app=nginx-ds", all...)

	// Rolling update node by node within maxUnavailable 1.
	before := map[string]bool{}
	for _, pods := range dsPodsByNode(t, a, "app=nginx-ds") {
		before[str(path(pods[0], "metadata", "name"))] = true
	}
	a.expect(a.mergePatch(daemonSetsPath+"/daemonset-nginx", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}`), http.StatusOK, "new image")
	eventually(t, 60*time.Second, "rolled out nginx:1.27", func() (bool, string) {
		ds := a.mustGet(daemonSetsPath + "/daemonset-nginx")
		st := path(ds, "status")
		if avail := num(path(st, "numberAvailable")); num(path(st, "desiredNumberScheduled")) == 3 && avail < 2 {
			t.Fatalf("more than maxUnavailable=1 pods unavailable: %v", st)
		}
		byNode := dsPodsByNode(t, a, "app=nginx-ds")
		ok := len(byNode) == 3 && num(path(st, "updatedNumberScheduled")) == 3 && num(path(st, "numberAvailable")) == 3 &&
			num(path(st, "observedGeneration")) == num(path(ds, "metadata", "generation"))
		for _, pods := range byNode {
			ok = ok && len(pods) == 1 && podImages(pods)[0] == "nginx:1.27" && !before[str(path(pods[0], "metadata", "name"))]
		}
		return ok, fmt.Sprint(st)
	})

	if r := a.mustGet(daemonSetsPath + "/daemonset-nginx/rolloutstatus"); r["done"] != true ||
		str(r["message"]) != "daemon set \"daemonset-nginx\" successfully rolled out\n" {
		t.Fatalf("rollout status: %s", mustJSON(r))
	}

	// History and rollback.
	hist := items(a.mustGet(daemonSetsPath + "/daemonset-nginx/history"))
	if len(hist) != 2 || num(hist[0]["revision"]) != 1 || num(hist[1]["revision"]) != 2 {
		t.Fatalf("history: %s", mustJSON(hist))
	}
	rev1 := a.mustGet(daemonSetsPath + "/daemonset-nginx/history/1")
	if img := str(path(asList(path(rev1, "template", "spec", "containers"))[0], "image")); img != "nginx:latest" {
		t.Fatalf("revision 1 image %q", img)
	}
	rb := a.expect(a.postJSON(daemonSetsPath+"/daemonset-nginx/rollback", map[string]any{}), http.StatusOK, "rollback")
	if str(rb["message"]) != "rolled back" {
		t.Fatalf("rollback: %s", mustJSON(rb))
	}
	eventually(t, 60*time.Second, "rolled back to nginx:latest", func() (bool, string) {
		byNode := dsPodsByNode(t, a, "app=nginx-ds")
		ok := len(byNode) == 3
		for _, pods := range byNode {
			ok = ok && len(pods) == 1 && dsPodReady(pods[0]) && podImages(pods)[0] == "nginx:latest"
		}
		return ok, fmt.Sprint(byNode)
	})
	hist = items(a.mustGet(daemonSetsPath + "/daemonset-nginx/history"))
	if len(hist) != 2 || num(hist[0]["revision"]) != 2 || num(hist[1]["revision"]) != 3 {
		t.Fatalf("history after rollback: %s", mustJSON(hist))
	}
	a.expect(a.postJSON(daemonSetsPath+"/daemonset-nginx/rollback", map[string]any{"revision": 9}), http.StatusBadRequest, "rollback to a missing revision")

	// OnDelete: nothing changes until a pod is deleted.
	a.expect(a.mergePatch(daemonSetsPath+"/daemonset-nginx", `{"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null},
"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}`), http.StatusOK, "OnDelete + new image")
	eventually(t, 30*time.Second, "OnDelete observed", func() (bool, string) {
		ds := a.mustGet(daemonSetsPath + "/daemonset-nginx")
		st := path(ds, "status")
		return num(path(st, "observedGeneration")) == num(path(ds, "metadata", "generation")) && num(path(st, "updatedNumberScheduled")) == 0, fmt.Sprint(st)
	})
	byNode := dsPodsByNode(t, a, "app=nginx-ds")
	for n, pods := range byNode {
		if len(pods) != 1 || podImages(pods)[0] != "nginx:latest" {
			t.Fatalf("OnDelete changed the pods of %s: %v", n, podImages(pods))
		}
	}
	victim := str(path(byNode["node-1"][0], "metadata", "name"))
	a.expect(a.do(http.MethodDelete, "/api/v1/namespaces/default/pods/"+victim, "", nil), http.StatusOK, "delete a pod")
	eventually(t, 60*time.Second, "node-1 replaced with nginx:1.28, others untouched", func() (bool, string) {
		byNode := dsPodsByNode(t, a, "app=nginx-ds")
		ok := len(byNode) == 3
		for n, pods := range byNode {
			want := "nginx:latest"
			if n == "node-1" {
				want = "nginx:1.28"
			}
			ok = ok && len(pods) == 1 && dsPodReady(pods[0]) && podImages(pods)[0] == want
		}
		return ok, fmt.Sprint(byNode)
	})

	// Events name what the controller did.
	reasons := map[string]bool{}
	for _, e := range items(a.mustGet("/api/v1/namespaces/default/events")) {
		if str(path(e, "involvedObject", "kind")) == "DaemonSet" && str(path(e, "involvedObject", "name")) == "daemonset-nginx" {
			reasons[str(e["reason"])] = true
		}
	}
	if !reasons["SuccessfulCreate"] || !reasons["SuccessfulDelete"] {
		t.Fatalf("events: %v", reasons)
	}
}

// rawJSON lets postJSON send a literal document.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }
