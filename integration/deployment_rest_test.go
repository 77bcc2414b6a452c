package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

const deploymentsPath = "/apis/apps/v1/namespaces/default/deployments"

// rolledOut waits until the Deployment has observed its spec and has exactly want
// updated, ready and available replicas and no others.
func rolledOut(t *testing.T, a api, name string, want int) map[string]any {
	t.Helper()
	var d map[string]any
	eventually(t, 60*time.Second, fmt.Sprintf("deployment %s rolled out with %d replicas", name, want), func() (bool, string) {
		d = a.mustGet(deploymentsPath + "/" + name)
		st := path(d, "status")
		ok := num(path(st, "observedGeneration")) == num(path(d, "metadata", "generation")) &&
			num(path(st, "replicas")) == want && num(path(st, "updatedReplicas")) == want &&
			num(path(st, "readyReplicas")) == want && num(path(st, "availableReplicas")) == want
		return ok, fmt.Sprint(st)
	})
	return d
}

// podsOf lists the pods matching a label selector.
func podsOf(t *testing.T, a api, selector string) []map[string]any {
	t.Helper()
	return items(a.mustGet("/api/v1/namespaces/default/pods?labelSelector=" + url.QueryEscape(selector)))
}

func replicaSetsOf(t *testing.T, a api, selector string) []map[string]any {
	t.Helper()
	return items(a.mustGet("/apis/apps/v1/namespaces/default/replicasets?labelSelector=" + url.QueryEscape(selector)))
}

func podImages(pods []map[string]any) []string {
	var out []string
	for _, p := range pods {
		cs, _ := path(p, "spec", "containers").([]any)
		if len(cs) > 0 {
			out = append(out, str(path(cs[0], "image")))
		}
	}
	return out
}

func rolloutDone(t *testing.T, a api, name string) {
	t.Helper()
	eventually(t, 60*time.Second, "rollout status done", func() (bool, string) {
		r := a.mustGet(deploymentsPath + "/" + name + "/rolloutstatus")
		return r["done"] == true, str(r["message"])
	})
}

var podName = regexp.MustCompile(`^nginx-deployment-[a-z0-9]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$`)

// TestDeploymentUserStoryREST follows the Deployment chapter of a Kubernetes tutorial
// with curl's equivalent: everything through the gateway's Kubernetes paths.
func TestDeploymentUserStoryREST(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}

	// kubectl apply -f deployment-nginx.yaml (a YAML body, as is)
	created := a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", readManifest(t, "deployment-nginx.yaml")), http.StatusCreated, "create")
	if num(path(created, "spec", "replicas")) != 1 || str(path(created, "spec", "strategy", "type")) != "RollingUpdate" {
		t.Fatalf("defaults not applied: %v", created["spec"])
	}
	rolledOut(t, a, "nginx-deployment", 1)

	// kubectl get pods -l app=nginx -o wide
	pods := podsOf(t, a, "app=nginx")
	if len(pods) != 1 {
		t.Fatalf("want 1 pod, got %d", len(pods))
	}
	p := pods[0]
	if !podName.MatchString(str(path(p, "metadata", "name"))) || str(path(p, "status", "phase")) != "Running" ||
		str(path(p, "spec", "nodeName")) == "" || str(path(p, "spec", "nodeName")) == "control-plane" ||
		!strings.HasPrefix(str(path(p, "status", "podIP")), "10.244.") {
		t.Fatalf("unexpected pod: name %v phase %v node %v ip %v", path(p, "metadata", "name"), path(p, "status", "phase"),
			path(p, "spec", "nodeName"), path(p, "status", "podIP"))
	}

	// kubectl scale deployment nginx-deployment --replicas=4 (a PATCH of /scale)
	a.expect(a.mergePatch(deploymentsPath+"/nginx-deployment/scale", `{"spec":{"replicas":4}}`), http.StatusOK, "scale")
	rolledOut(t, a, "nginx-deployment", 4)
	scale := a.mustGet(deploymentsPath + "/nginx-deployment/scale")
	if num(path(scale, "spec", "replicas")) != 4 || str(path(scale, "status", "selector")) != "app=nginx" {
		t.Fatalf("scale subresource: %v", scale)
	}

	// kubectl delete pod <one>: a replacement comes
	victim := str(path(podsOf(t, a, "app=nginx")[0], "metadata", "name"))
	a.expect(a.do(http.MethodDelete, "/api/v1/namespaces/default/pods/"+victim, "", nil), http.StatusOK, "delete pod")
	eventually(t, 30*time.Second, "replacement pod", func() (bool, string) {
		pods := podsOf(t, a, "app=nginx")
		running := 0
		for _, p := range pods {
			if str(path(p, "metadata", "name")) == victim {
				return false, "victim still listed"
			}
			if str(path(p, "status", "phase")) == "Running" {
				running++
			}
		}
		return running == 4, fmt.Sprintf("%d running", running)
	})

	// kubectl set image deployment/nginx-deployment nginx-container=nginx:1.25 --record style change-cause
	a.expect(a.mergePatch(deploymentsPath+"/nginx-deployment",
		`{"metadata":{"annotations":{"kubernetes.io/change-cause":"image 1.25"}},"spec":{"template":{"spec":{"containers":[{"name":"nginx-container","image":"nginx:1.25"}]}}}}`),
		http.StatusOK, "set image")
	// maxSurge 25% of 4 = 1, maxUnavailable 25% of 4 = 1, checked at every sample as
	// Kubernetes' e2e checkRollingUpdateStatus does: the ReplicaSets' spec.replicas sum
	// to at most 5, and the Deployment's status.availableReplicas is at least 3. Live
	// pods are not bounded by 5: the controller scales the new ReplicaSet up once it has
	// scaled an old one down, and the old one's pods above its spec.replicas are deleted
	// afterwards, by that ReplicaSet's own sync.
	deadline := time.Now().Add(60 * time.Second)
	for {
		specs, bySet := 0, map[string]int{}
		for _, rs := range replicaSetsOf(t, a, "app=nginx") {
			n := num(path(rs, "spec", "replicas"))
			specs += n
			bySet[str(path(rs, "metadata", "name"))] = n
		}
		d := a.mustGet(deploymentsPath + "/nginx-deployment")
		available := num(path(d, "status", "availableReplicas"))
		if specs > 5 || available < 3 {
			t.Fatalf("rolling update outside maxSurge/maxUnavailable: ReplicaSets want %d pods (%v), more than 5, or %d available, fewer than 3", specs, bySet, available)
		}
		r := a.mustGet(deploymentsPath + "/nginx-deployment/rolloutstatus")
		if r["done"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout did not finish: %v", r["message"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	rolledOut(t, a, "nginx-deployment", 4)
	allPodsHaveImage(t, a, "app=nginx", "nginx:1.25", 4)

	// kubectl rollout history
	hist := items(a.mustGet(deploymentsPath + "/nginx-deployment/history"))
	if len(hist) != 2 || num(hist[1]["revision"]) != 2 || str(hist[1]["changeCause"]) != "image 1.25" {
		t.Fatalf("history: %v", hist)
	}
	rev1 := a.mustGet(deploymentsPath + "/nginx-deployment/history/1")
	if img := str(path(rev1, "template", "spec", "containers").([]any)[0].(map[string]any)["image"]); img != "nginx:latest" {
		t.Fatalf("revision 1 template image %q", img)
	}

	// kubectl rollout undo --to-revision=1: the restored template becomes revision 3.
	a.expect(a.postJSON(deploymentsPath+"/nginx-deployment/rollback", map[string]any{"revision": 1}), http.StatusOK, "rollback")
	rolloutDone(t, a, "nginx-deployment")
	rolledOut(t, a, "nginx-deployment", 4)
	hist = items(a.mustGet(deploymentsPath + "/nginx-deployment/history"))
	var revs []int
	for _, h := range hist {
		revs = append(revs, num(h["revision"]))
	}
	if fmt.Sprint(revs) != "[2 3]" {
		t.Fatalf("history after undo: revisions %v, want [2 3]", revs)
	}
	allPodsHaveImage(t, a, "app=nginx", "nginx:latest", 4)

	// kubectl rollout pause; two changes; resume: one rollout.
	a.expect(a.mergePatch(deploymentsPath+"/nginx-deployment", `{"spec":{"paused":true}}`), http.StatusOK, "pause")
	rsBefore := len(replicaSetsOf(t, a, "app=nginx"))
	a.expect(a.mergePatch(deploymentsPath+"/nginx-deployment", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx-container","image":"nginx:1.26"}]}}}}`), http.StatusOK, "change 1")
	a.expect(a.mergePatch(deploymentsPath+"/nginx-deployment", `{"spec":{"template":{"metadata":{"labels":{"app":"nginx","tier":"web"}}}}}`), http.StatusOK, "change 2")
	eventually(t, 10*time.Second, "paused condition", func() (bool, string) {
		d := a.mustGet(deploymentsPath + "/nginx-deployment")
		for _, c := range asList(path(d, "status", "conditions")) {
			if str(path(c, "type")) == "Progressing" && str(path(c, "reason")) == "DeploymentPaused" {
				return true, ""
			}
		}
		return false, fmt.Sprint(path(d, "status", "conditions"))
	})
	if n := len(replicaSetsOf(t, a, "app=nginx")); n != rsBefore {
		t.Fatalf("paused deployment rolled out: %d replica sets, had %d", n, rsBefore)
	}
	a.expect(a.mergePatch(deploymentsPath+"/nginx-deployment", `{"spec":{"paused":false}}`), http.StatusOK, "resume")
	rolloutDone(t, a, "nginx-deployment")
	rolledOut(t, a, "nginx-deployment", 4)
	if n := len(replicaSetsOf(t, a, "app=nginx")); n != rsBefore+1 {
		t.Fatalf("resume made %d new replica sets, want 1", n-rsBefore)
	}
	allPodsHaveImage(t, a, "app=nginx,tier=web", "nginx:1.26", 4)

	// Events: kubectl describe deployment shows the scaling events.
	evs := items(a.mustGet("/api/v1/namespaces/default/events?fieldSelector=" + url.QueryEscape("involvedObject.name=nginx-deployment")))
	found := false
	for _, e := range evs {
		if str(e["reason"]) == "ScalingReplicaSet" && strings.HasPrefix(str(e["message"]), "Scaled up replica set nginx-deployment-") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no ScalingReplicaSet event among %d events", len(evs))
	}

	// kubectl delete deployment: its ReplicaSets and pods go.
	a.expect(a.do(http.MethodDelete, deploymentsPath+"/nginx-deployment", "", nil), http.StatusOK, "delete")
	eventually(t, 30*time.Second, "replica sets and pods gone", func() (bool, string) {
		rs, pods := replicaSetsOf(t, a, "app=nginx"), podsOf(t, a, "app=nginx")
		return len(rs) == 0 && len(pods) == 0, fmt.Sprintf("%d replica sets, %d pods", len(rs), len(pods))
	})
	a.expect(a.get(deploymentsPath+"/nginx-deployment"), http.StatusNotFound, "get deleted")
}

// allPodsHaveImage waits until exactly n pods match selector, all with image.
func allPodsHaveImage(t *testing.T, a api, selector, image string, n int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%d pods %s with image %s", n, selector, image), func() (bool, string) {
		pods := podsOf(t, a, selector)
		imgs := podImages(pods)
		if len(imgs) != n {
			return false, fmt.Sprint(imgs)
		}
		for _, img := range imgs {
			if img != image {
				return false, fmt.Sprint(imgs)
			}
		}
		return true, ""
	})
}

func asList(v any) []any { l, _ := v.([]any); return l }
