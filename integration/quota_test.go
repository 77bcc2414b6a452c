package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// teamLimits gives every container of namespace team 250m of cpu requested and
// 500m as its limit when it states none.
const teamLimits = `apiVersion: v1
kind: LimitRange
metadata: {name: cpu-defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m}
    defaultRequest: {cpu: 250m}
    max: {cpu: "1"}
`

// TestResourceQuotaWithKubectl: a compute quota created with kubectl create quota
// refuses pods that state no cpu (Kubernetes' "must specify" message); a
// LimitRange's defaults fill in the pods' resources (shown on the pod, with the
// LimitRanger's annotation); the quota then lets a Deployment's scale-up make
// only as many pods as it allows: the ReplicaSet gets ReplicaFailure
// (FailedCreate) and the FailedCreate event with the exceeded-quota message,
// kubectl get/describe quota show the usage, a bare pod is refused too, and
// raising the quota lets the scale-up finish and clears the condition.
func TestResourceQuotaWithKubectl(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	k := newKubectl(t, bin, s.GatewayURL)

	out := k.within(30*time.Second, "api-resources", "--api-group=")
	for _, re := range []string{`(?m)^resourcequotas\s+quota\s+v1\s+true\s+ResourceQuota$`, `(?m)^limitranges\s+limits\s+v1\s+true\s+LimitRange$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Fatalf("api-resources lacks %s:\n%s", re, out)
		}
	}
	k.within(30*time.Second, "create", "namespace", "team")
	k.within(30*time.Second, "create", "quota", "compute", "-n", "team", "--hard=pods=2,requests.cpu=1,limits.cpu=2")
	poll(t, 30*time.Second, "the quota's status", func() (bool, string) {
		out := k.within(30*time.Second, "get", "quota", "-n", "team")
		return regexp.MustCompile(`(?m)^compute\s+\S+\s+pods: 0/2, requests.cpu: 0/1\s+limits.cpu: 0/2$`).MatchString(out), out
	})
	if w := a.get("/api/v1/namespaces/team/resourcequotas?watch=true&timeoutSeconds=1"); w.Code != http.StatusOK ||
		!regexp.MustCompile(`"type":"ADDED","object":\{.*"name":"compute"`).Match(w.Body) {
		t.Fatalf("watch of quotas: %d %s", w.Code, w.Body)
	}
	if msg := k.fails("run", "bare", "--image=nginx", "-n", "team"); !strings.Contains(msg,
		`pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: bare; requests.cpu for: bare`) {
		t.Fatalf("pod without cpu: %s", msg)
	}

	file := filepath.Join(t.TempDir(), "limits.yaml")
	if err := os.WriteFile(file, []byte(teamLimits), 0o600); err != nil {
		t.Fatal(err)
	}
	k.within(30*time.Second, "apply", "-n", "team", "-f", file)
	if out := k.within(30*time.Second, "get", "limits", "-n", "team"); !regexp.MustCompile(`(?m)^cpu-defaults\s+\d{4}-\d\d-\d\dT`).MatchString(out) {
		t.Fatalf("kubectl get limits:\n%s", out)
	}
	wantLines(t, k.within(30*time.Second, "describe", "limitrange", "cpu-defaults", "-n", "team"), "Container", "cpu", "250m", "500m")

	k.within(30*time.Second, "create", "deployment", "web", "--image=nginx", "-n", "team")
	var pod string
	poll(t, 60*time.Second, "the first pod", func() (bool, string) {
		names := strings.Fields(k.within(30*time.Second, "get", "pods", "-n", "team", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"))
		if len(names) > 0 {
			pod = names[0]
		}
		return pod != "", ""
	})
	res := k.within(30*time.Second, "get", "pod", pod, "-n", "team", "-o", "jsonpath={.spec.containers[0].resources}")
	if res != `{"limits":{"cpu":"500m"},"requests":{"cpu":"250m"}}` {
		t.Fatalf("pod resources %s", res)
	}
	if ann := k.within(30*time.Second, "get", "pod", pod, "-n", "team", "-o", `jsonpath={.metadata.annotations.kubernetes\.io/limit-ranger}`); ann !=
		"LimitRanger plugin set: cpu request for container nginx; cpu limit for container nginx" {
		t.Fatalf("limit-ranger annotation %q", ann)
	}

	// The scale-up stops at the quota.
	k.within(30*time.Second, "scale", "deployment", "web", "--replicas=4", "-n", "team")
	exceeded := `exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2`
	poll(t, 60*time.Second, "ReplicaFailure on the ReplicaSet", func() (bool, string) {
		out := k.within(30*time.Second, "get", "rs", "-n", "team", "-l", "app=web", "-o", "yaml")
		return strings.Contains(out, "type: ReplicaFailure") && strings.Contains(out, "reason: FailedCreate"), out
	})
	if msg := k.within(30*time.Second, "get", "rs", "-n", "team", "-l", "app=web", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="ReplicaFailure")].message}`); !regexp.MustCompile(
		`^pods "web-[a-z0-9-]+" is forbidden: ` + regexp.QuoteMeta(exceeded) + `$`).MatchString(msg) {
		t.Fatalf("ReplicaFailure message %q", msg)
	}
	poll(t, 30*time.Second, "the Deployment lifts ReplicaFailure", func() (bool, string) {
		out := k.within(30*time.Second, "get", "deployment", "web", "-n", "team", "-o", `jsonpath={.status.conditions[?(@.type=="ReplicaFailure")].reason}`)
		return out == "FailedCreate", out
	})
	desc := k.within(30*time.Second, "describe", "rs", "-n", "team", "-l", "app=web")
	if !regexp.MustCompile(`Warning\s+FailedCreate\s+.*Error creating: pods "web-[a-z0-9-]+" is forbidden: ` + regexp.QuoteMeta(exceeded)).MatchString(desc) {
		t.Fatalf("kubectl describe rs lacks the FailedCreate event:\n%s", desc)
	}
	if n := len(items(a.mustGet("/api/v1/namespaces/team/pods"))); n != 2 {
		t.Fatalf("%d pods under a quota of 2", n)
	}
	if !regexp.MustCompile(`(?m)^\s*pods\s+2\s+2$`).MatchString(k.within(30*time.Second, "describe", "quota", "compute", "-n", "team")) {
		t.Fatalf("describe quota")
	}
	wantLines(t, k.within(30*time.Second, "describe", "quota", "compute", "-n", "team"),
		"Resource", "Used", "Hard", "limits.cpu", "1", "requests.cpu", "500m")
	if msg := k.fails("run", "extra", "--image=nginx", "-n", "team"); !strings.Contains(msg, `pods "extra" is forbidden: `+exceeded) {
		t.Fatalf("bare pod over the quota: %s", msg)
	}

	// Raising the quota lets the scale-up finish; the condition goes.
	k.within(30*time.Second, "patch", "quota", "compute", "-n", "team", "-p", `{"spec":{"hard":{"pods":"4","requests.cpu":"2","limits.cpu":"4"}}}`)
	poll(t, 90*time.Second, "the scale-up finishes", func() (bool, string) {
		out := k.within(30*time.Second, "get", "deployment", "web", "-n", "team", "-o", "jsonpath={.status.readyReplicas}")
		return out == "4", out
	})
	poll(t, 30*time.Second, "ReplicaFailure cleared", func() (bool, string) {
		out := k.within(30*time.Second, "get", "rs", "-n", "team", "-l", "app=web", "-o", "jsonpath={.items[0].status.conditions}")
		return !strings.Contains(out, "ReplicaFailure"), out
	})
	poll(t, 30*time.Second, "the usage", func() (bool, string) {
		out := k.within(30*time.Second, "get", "quota", "compute", "-n", "team", "-o", "jsonpath={.status.used}")
		return out == `{"limits.cpu":"2","pods":"4","requests.cpu":"1"}`, out
	})

	// Scaling down frees the slots (status.used follows); deletecollection removes the LimitRanges.
	k.within(30*time.Second, "scale", "deployment", "web", "--replicas=1", "-n", "team")
	poll(t, 60*time.Second, "usage after the scale-down", func() (bool, string) {
		out := k.within(30*time.Second, "get", "quota", "compute", "-n", "team", "-o", "jsonpath={.status.used.pods}")
		return out == "1", out
	})
	// Services are counted too.
	k.within(30*time.Second, "create", "quota", "objects", "-n", "team", "--hard=services=1")
	k.within(30*time.Second, "create", "service", "clusterip", "one", "--tcp=80:80", "-n", "team")
	if msg := k.fails("create", "service", "nodeport", "two", "--tcp=80:80", "-n", "team"); !strings.Contains(msg,
		`services "two" is forbidden: exceeded quota: objects, requested: services=1, used: services=1, limited: services=1`) {
		t.Fatalf("second service: %s", msg)
	}
	a.expect(a.do(http.MethodDelete, "/api/v1/namespaces/team/limitranges", "", nil), http.StatusOK, "deletecollection of limitranges")
	if n := len(items(a.mustGet("/api/v1/namespaces/team/limitranges"))); n != 0 {
		t.Fatalf("%d limitranges left", n)
	}
}
