package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

const pdbsPath = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"

// readyUndeleted counts the ready pods of a selector that are not being deleted
// (what a disruption budget counts as healthy).
func readyUndeleted(pods []map[string]any) int {
	n := 0
	for _, p := range pods {
		if path(p, "metadata", "deletionTimestamp") != nil {
			continue
		}
		for _, c := range asList(path(p, "status", "conditions")) {
			if str(path(c, "type")) == "Ready" && str(path(c, "status")) == "True" {
				n++
			}
		}
	}
	return n
}

func webDeployment(replicas, grace int) []byte {
	return fmt.Appendf(nil, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":%d,
"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"terminationGracePeriodSeconds":%d,
"containers":[{"name":"web","image":"nginx:1.27"}]}}}}`, replicas, grace)
}

// pdbStatus waits until the budget's status says want disruptions allowed.
func pdbAllows(t *testing.T, a api, name string, want int) map[string]any {
	t.Helper()
	var p map[string]any
	eventually(t, 30*time.Second, fmt.Sprintf("%s allows %d", name, want), func() (bool, string) {
		p = a.mustGet(pdbsPath + "/" + name)
		st := path(p, "status")
		return num(path(st, "disruptionsAllowed")) == want && num(path(st, "observedGeneration")) == num(path(p, "metadata", "generation")),
			string(mustJSON(st))
	})
	return p
}

// TestEvictionAndDisruptionBudget: a budget's status follows its pods (minAvailable,
// then maxUnavailable counted on the Deployment's scale); an eviction it allows is
// 201 and leaves the pod deleting with the DisruptionTarget condition; one it forbids
// is 429 with Kubernetes' message and cause; a missing pod is 404; a budget with
// both minAvailable and maxUnavailable is rejected naming spec.
func TestEvictionAndDisruptionBudget(t *testing.T) {
	// An evicted pod takes 3 s to stop: long enough to read its DisruptionTarget condition.
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_SIM_TERMINATION_DELAY=3s"}})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/json", webDeployment(3, 30)), http.StatusCreated, "create web")
	rolledOut(t, a, "web", 3)
	a.expect(a.do(http.MethodPost, pdbsPath, "application/yaml", []byte(`apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web-pdb}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
`)), http.StatusCreated, "create pdb")
	p := pdbAllows(t, a, "web-pdb", 1)
	st := path(p, "status")
	if num(path(st, "currentHealthy")) != 3 || num(path(st, "desiredHealthy")) != 2 || num(path(st, "expectedPods")) != 3 {
		t.Fatalf("status %s", mustJSON(st))
	}
	if c := asList(path(st, "conditions")); len(c) != 1 || str(path(c[0], "type")) != "DisruptionAllowed" || str(path(c[0], "reason")) != "SufficientPods" {
		t.Fatalf("conditions %s", mustJSON(c))
	}

	evict := func(pod string) response {
		return a.do(http.MethodPost, podsPath+"/"+pod+"/eviction", "application/json",
			fmt.Appendf(nil, `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":%q,"namespace":"default"}}`, pod))
	}
	pods := podsOf(t, a, "app=web")
	first, second := str(path(pods[0], "metadata", "name")), str(path(pods[1], "metadata", "name"))
	a.expect(evict(first), http.StatusCreated, "evict "+first)
	e := a.mustGet(podsPath + "/" + first)
	found := false
	for _, c := range asList(path(e, "status", "conditions")) {
		found = found || (str(path(c, "type")) == "DisruptionTarget" && str(path(c, "reason")) == "EvictionByEvictionAPI" && str(path(c, "status")) == "True")
	}
	if path(e, "metadata", "deletionTimestamp") == nil || !found {
		t.Fatalf("evicted pod: %s", mustJSON(e["status"]))
	}
	// The budget is used up until the replacement is ready: the next eviction is refused.
	r := evict(second)
	if r.Code != http.StatusTooManyRequests {
		// The replacement may already be ready; the budget then allowed it. Not expected
		// with the default delays (start 0.5 s + ready 0.5 s), so a failure.
		t.Fatalf("second eviction: %d %s", r.Code, r.Body)
	}
	body := r.JSON()
	causes := asList(path(body, "details", "causes"))
	if str(body["reason"]) != "TooManyRequests" || str(body["message"]) != "Cannot evict pod as it would violate the pod's disruption budget." ||
		len(causes) != 1 || str(path(causes[0], "reason")) != "DisruptionBudget" ||
		!strings.HasPrefix(str(path(causes[0], "message")), "The disruption budget web-pdb needs 2 healthy pods and has ") {
		t.Fatalf("429 body: %s", mustJSON(body))
	}
	// The replacement ready, the budget allows one again.
	rolledOut(t, a, "web", 3)
	pdbAllows(t, a, "web-pdb", 1)

	// A missing pod.
	nf := a.expect(evict("nope"), http.StatusNotFound, "evict a missing pod")
	if str(nf["message"]) != `pods "nope" not found` {
		t.Fatalf("404 body: %s", mustJSON(nf))
	}

	// maxUnavailable counts the Deployment's scale: scaled to 4, one may go.
	a.expect(a.mergePatch(pdbsPath+"/web-pdb", `{"spec":{"minAvailable":null,"maxUnavailable":"25%"}}`), http.StatusOK, "switch to maxUnavailable")
	a.expect(a.mergePatch(deploymentsPath+"/web/scale", `{"spec":{"replicas":4}}`), http.StatusOK, "scale to 4")
	rolledOut(t, a, "web", 4)
	p = pdbAllows(t, a, "web-pdb", 1)
	if st := path(p, "status"); num(path(st, "expectedPods")) != 4 || num(path(st, "desiredHealthy")) != 3 {
		t.Fatalf("maxUnavailable 25%% of 4: %s", mustJSON(st))
	}

	// A plain delete cannot write conditions (only an eviction's DisruptionTarget is set on deletion).
	any := str(path(podsOf(t, a, "app=web")[0], "metadata", "name"))
	if r := a.do(http.MethodDelete, podsPath+"/"+any+"?condition.type=Ready&condition.status=False", "", nil); r.Code != http.StatusBadRequest {
		t.Fatalf("delete with a Ready condition: %d %s", r.Code, r.Body)
	}

	// Bad input: both bounds.
	bad := a.expect(a.do(http.MethodPost, pdbsPath, "application/yaml", readManifest(t, "invalid/pdb-min-and-max.yaml")), http.StatusUnprocessableEntity, "both bounds")
	if !strings.Contains(str(bad["message"]), "minAvailable and maxUnavailable cannot be both set") {
		t.Fatalf("both bounds: %s", mustJSON(bad))
	}
}

// TestDrainRespectsDisruptionBudget: `kubectl cordon` makes a node unschedulable
// (and `uncordon` schedulable again); `kubectl drain node-1 --ignore-daemonsets`
// evicts node-1's pods through the budget: it waits on a 429 while the budget is used
// up, and proceeds as the Deployment replaces the evicted pods on node-2, never
// leaving fewer ready pods than the budget's minAvailable.
func TestDrainRespectsDisruptionBudget(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_SIM_READY_DELAY=1s"}})
	a := api{t: t, base: s.GatewayURL}
	k := newKubectl(t, bin, s.GatewayURL)

	// Every web pod on node-1: node-2 cordoned while they are made.
	k.within(30*time.Second, "cordon", "node-2")
	n2 := a.mustGet("/api/v1/nodes/node-2")
	if path(n2, "spec", "unschedulable") != true || !strings.Contains(string(mustJSON(path(n2, "spec", "taints"))), "node.kubernetes.io/unschedulable") {
		t.Fatalf("cordoned node-2: %s", mustJSON(n2["spec"]))
	}
	a.expect(a.do(http.MethodPost, daemonSetsPath, "application/json", []byte(dsJSON("agent", "busybox:1.36", "", `"terminationGracePeriodSeconds":1,`))),
		http.StatusCreated, "create daemonset")
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/json", webDeployment(3, 1)), http.StatusCreated, "create web")
	rolledOut(t, a, "web", 3)
	for _, p := range podsOf(t, a, "app=web") {
		if n := str(path(p, "spec", "nodeName")); n != "node-1" {
			t.Fatalf("a web pod on %s while node-2 is cordoned", n)
		}
	}
	k.within(30*time.Second, "uncordon", "node-2")
	if n2 := a.mustGet("/api/v1/nodes/node-2"); path(n2, "spec", "unschedulable") == true || strings.Contains(string(mustJSON(path(n2, "spec", "taints"))), "unschedulable") {
		t.Fatalf("uncordoned node-2: %s", mustJSON(n2["spec"]))
	}
	k.within(30*time.Second, "create", "pdb", "web-pdb", "--selector=app=web", "--min-available=2")
	pdbAllows(t, a, "web-pdb", 1)
	out := k.within(30*time.Second, "get", "pdb")
	if !strings.Contains(out, "NAME") || !strings.Contains(out, "MIN AVAILABLE") || !strings.Contains(out, "ALLOWED DISRUPTIONS") ||
		!strings.Contains(out, "web-pdb") {
		t.Fatalf("kubectl get pdb:\n%s", out)
	}

	// Watch the ready pods while draining: never fewer than minAvailable.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	least := 3
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if n := readyUndeleted(podsOf(t, a, "app=web")); n < least {
				least = n
			}
			time.Sleep(50 * time.Millisecond) // sampling interval
		}
	}()
	dctx, dcancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer dcancel()
	cmd := exec.CommandContext(dctx, bin, "--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir,
		"drain", "node-1", "--ignore-daemonsets", "--timeout=120s")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	err := cmd.Run()
	cancel()
	wg.Wait()
	t.Logf("$ kubectl drain node-1 --ignore-daemonsets\n%s", outBuf.String())
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	drained := outBuf.String()
	if !strings.Contains(drained, "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Errorf("drain never waited on the budget")
	}
	if !strings.Contains(drained, "node/node-1 drained") || !strings.Contains(drained, "Warning: ignoring DaemonSet-managed Pods") {
		t.Errorf("drain output")
	}
	if least < 2 {
		t.Errorf("%d ready web pods at one point, below minAvailable 2", least)
	}
	rolledOut(t, a, "web", 3)
	for _, p := range podsOf(t, a, "app=web") {
		if n := str(path(p, "spec", "nodeName")); n != "node-2" {
			t.Errorf("web pod %s on %s after the drain", str(path(p, "metadata", "name")), n)
		}
	}
	// node-1 keeps its DaemonSet pod and stays cordoned.
	if n1 := a.mustGet("/api/v1/nodes/node-1"); path(n1, "spec", "unschedulable") != true {
		t.Errorf("node-1 not cordoned after drain")
	}
}
