package integration

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// addNodes registers nodes prefix-0 ... prefix-(n-1) concurrently; it returns
// their names and the failures.
func addNodes(a api, prefix string, n int) ([]string, []string) {
	names := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.do(http.MethodPost, "/api/v1/nodes", "application/json",
				[]byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":%q}}`, names[i])))
			if r.Code != http.StatusCreated {
				errs <- fmt.Sprintf("%s: %d %s", names[i], r.Code, r.Body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var failed []string
	for e := range errs {
		failed = append(failed, e)
	}
	return names, failed
}

// exactlyOnePerNode waits until every node of want has exactly one ready pod of the
// DaemonSet, no other node has one, and no pod exists twice (every pod counted,
// terminating ones too, once the fleet has settled).
func exactlyOnePerNode(t *testing.T, a api, name, selector string, want []string, timeout time.Duration) {
	t.Helper()
	wantSet := map[string]bool{}
	for _, n := range want {
		wantSet[n] = true
	}
	eventually(t, timeout, fmt.Sprintf("exactly one %s pod on each of %d nodes", name, len(want)), func() (bool, string) {
		all := items(a.mustGet("/api/v1/namespaces/default/pods?labelSelector=app%3D" + selector))
		perNode := map[string]int{}
		ready := 0
		for _, p := range all {
			perNode[str(path(p, "spec", "nodeName"))]++
			if dsPodReady(p) && path(p, "metadata", "deletionTimestamp") == nil {
				ready++
			}
		}
		ok := len(all) == len(want) && ready == len(want)
		var bad []string
		for n, c := range perNode {
			if c != 1 || !wantSet[n] {
				ok = false
				bad = append(bad, fmt.Sprintf("%s:%d", n, c))
			}
		}
		st := path(a.mustGet(daemonSetsPath+"/"+name), "status")
		ok = ok && num(path(st, "desiredNumberScheduled")) == len(want) && num(path(st, "numberAvailable")) == len(want)
		return ok, fmt.Sprintf("%d pods, %d ready, bad nodes %v, status %v", len(all), ready, bad, st)
	})
}

// TestDaemonSetNodeBurst: 50 nodes added at once get 50 pods, one each.
func TestDaemonSetNodeBurst(t *testing.T) {
	s := startSystem(t, harness.Options{Nodes: 1}) // the control plane only (tainted)
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.postJSON(daemonSetsPath, rawJSON(dsJSON("burst", "agent", "", ""))), http.StatusCreated, "create")
	names, failed := addNodes(a, "burst", 50)
	if len(failed) > 0 {
		t.Fatal(failed)
	}
	exactlyOnePerNode(t, a, "burst", "burst", names, 90*time.Second)
}

// TestDaemonSetKilledDuringNodeBurst: kill -9 of the daemonset service while 40
// nodes register; after a restart exactly one pod runs on each eligible node.
func TestDaemonSetKilledDuringNodeBurst(t *testing.T) {
	s := startSystem(t, harness.Options{Nodes: 1})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.postJSON(daemonSetsPath, rawJSON(dsJSON("crashy", "agent", "", ""))), http.StatusCreated, "create")
	type result struct{ names, failed []string }
	done := make(chan result)
	go func() { n, f := addNodes(a, "crash", 40); done <- result{n, f} }()
	// Kill once the controller has started creating pods for the burst.
	eventually(t, 30*time.Second, "some pods created", func() (bool, string) {
		n := len(items(a.mustGet("/api/v1/namespaces/default/pods?labelSelector=app%3Dcrashy")))
		return n >= 5, fmt.Sprint(n)
	})
	s.Kill("daemonset")
	res := <-done
	if len(res.failed) > 0 {
		t.Fatal(res.failed)
	}
	names := res.names
	if _, err := s.StartService("daemonset", 0); err != nil {
		t.Fatal(err)
	}
	exactlyOnePerNode(t, a, "crashy", "crashy", names, 90*time.Second)
}

// TestDaemonSetSurge: with maxSurge 1 and maxUnavailable 0 the new pod starts next
// to the old one; availability never drops below the desired count.
func TestDaemonSetSurge(t *testing.T) {
	s := startSystem(t, harness.Options{Nodes: 4})
	a := api{t: t, base: s.GatewayURL}
	strategy := `"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":1}},`
	a.expect(a.postJSON(daemonSetsPath, rawJSON(dsJSON("surge", "agent:1", strategy, ""))), http.StatusCreated, "create")
	dsOnExactly(t, a, "surge", "app=surge", "node-1", "node-2", "node-3")
	a.expect(a.mergePatch(daemonSetsPath+"/surge", `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"agent:2"}]}}}}`), http.StatusOK, "new image")
	eventually(t, 60*time.Second, "surge rollout", func() (bool, string) {
		st := path(a.mustGet(daemonSetsPath+"/surge"), "status")
		// Availability is read from the pods: status.numberAvailable looks at each
		// node's oldest pod, and with whole-second creation times a surge pod created
		// in the same second as the old one can sort first (Kubernetes does the same).
		byNode := dsPodsByNode(t, a, "app=surge")
		for _, node := range []string{"node-1", "node-2", "node-3"} {
			ready := false
			for _, p := range byNode[node] {
				ready = ready || dsPodReady(p)
			}
			if !ready {
				t.Fatalf("no ready pod on %s during a surge rollout: %v", node, byNode[node])
			}
		}
		ok := len(byNode) == 3
		for _, pods := range byNode {
			ok = ok && len(pods) == 1 && dsPodReady(pods[0]) && podImages(pods)[0] == "agent:2"
		}
		return ok && num(path(st, "updatedNumberScheduled")) == 3, fmt.Sprint(st)
	})
}

// TestDaemonSetBadInput: each bad DaemonSet is rejected naming the field, and
// nothing is stored.
func TestDaemonSetBadInput(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	cases := map[string]struct {
		body  string
		code  int
		field string
	}{
		"replicas": {body: strings.Replace(dsJSON("r", "i", "", ""), `"spec":{`, `"spec":{"replicas":3,`, 1), code: 400, field: "replicas"},
		"selector mismatch": {body: strings.Replace(dsJSON("m", "i", "", ""), `"matchLabels":{"app":"m"}`, `"matchLabels":{"app":"other"}`, 1),
			code: 422, field: "spec.template.metadata.labels"},
		"maxUnavailable and maxSurge 0": {body: dsJSON("z", "i", `"updateStrategy":{"rollingUpdate":{"maxUnavailable":0,"maxSurge":0}},`, ""),
			code: 422, field: "spec.updateStrategy.rollingUpdate.maxUnavailable"},
		"restartPolicy Never": {body: dsJSON("p", "i", "", `"restartPolicy":"Never",`), code: 422, field: "spec.template.spec.restartPolicy"},
		"toleration operator": {body: dsJSON("o", "i", "", `"tolerations":[{"key":"k","operator":"Sometimes"}],`), code: 422, field: "spec.template.spec.tolerations[0].operator"},
		"toleration effect":   {body: dsJSON("e", "i", "", `"tolerations":[{"key":"k","operator":"Exists","effect":"NoWay"}],`), code: 422, field: "spec.template.spec.tolerations[0].effect"},
		"strategy type":       {body: dsJSON("t", "i", `"updateStrategy":{"type":"Recreate"},`, ""), code: 422, field: "spec.updateStrategy.type"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a := api{t: t, base: a.base}
			// As kubectl sends them (--validate=strict by default): an unknown field is an
			// error, not the default's warning.
			r := a.do(http.MethodPost, daemonSetsPath+"?fieldValidation=Strict", "application/json", []byte(tc.body))
			if r.Code != tc.code || str(r.JSON()["kind"]) != "Status" || !strings.Contains(string(r.Body), tc.field) {
				t.Fatalf("got %d %s, want %d naming %s", r.Code, r.Body, tc.code, tc.field)
			}
		})
	}
	// Node taints with a bad effect are rejected by the node service.
	r := a.mergePatch("/api/v1/nodes/node-1", `{"spec":{"taints":[{"key":"k","effect":"Sometimes"}]}}`)
	if r.Code != 422 || !strings.Contains(string(r.Body), "spec.taints[0].effect") {
		t.Fatalf("bad taint effect: %d %s", r.Code, r.Body)
	}
	// The selector is immutable.
	a.expect(a.postJSON(daemonSetsPath, rawJSON(dsJSON("ok", "i", "", ""))), http.StatusCreated, "create ok")
	r = a.mergePatch(daemonSetsPath+"/ok", `{"spec":{"selector":{"matchLabels":{"app":"ok","x":"y"}},"template":{"metadata":{"labels":{"app":"ok","x":"y"}}}}}`)
	if r.Code != 422 || !strings.Contains(string(r.Body), "spec.selector") {
		t.Fatalf("selector change: %d %s", r.Code, r.Body)
	}
	if n := len(items(a.mustGet("/apis/apps/v1/daemonsets"))); n != 1 {
		t.Fatalf("rejected DaemonSets stored: %d", n)
	}
}

// TestDaemonSetNodeNotReady: a node that stops reporting gets the unreachable
// taints; the daemon pod tolerates the NoExecute one forever and stays (counted as
// misscheduled, since the NoSchedule one keeps it from being desired), and the node
// is desired again once it is back.
func TestDaemonSetNodeNotReady(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.postJSON(daemonSetsPath, rawJSON(dsJSON("agent", "agent", "", ""))), http.StatusCreated, "create")
	dsOnExactly(t, a, "agent", "app=agent", "node-1", "node-2")
	victim := str(path(dsPodsByNode(t, a, "app=agent")["node-2"][0], "metadata", "name"))
	a.expect(a.postJSON("/apis/sim.podwarden.io/v1/nodes/node-2/ready", map[string]any{"ready": false}), http.StatusOK, "node-2 not ready")
	eventually(t, 30*time.Second, "node-2 misscheduled", func() (bool, string) {
		st := path(a.mustGet(daemonSetsPath+"/agent"), "status")
		return num(path(st, "desiredNumberScheduled")) == 1 && num(path(st, "numberMisscheduled")) == 1, fmt.Sprint(st)
	})
	p := a.get("/api/v1/namespaces/default/pods/" + victim)
	if p.Code != http.StatusOK || path(p.JSON(), "metadata", "deletionTimestamp") != nil {
		t.Fatalf("the daemon pod on the unreachable node was deleted: %d %s", p.Code, p.Body)
	}
	a.expect(a.postJSON("/apis/sim.podwarden.io/v1/nodes/node-2/ready", map[string]any{"ready": true}), http.StatusOK, "node-2 ready")
	dsOnExactly(t, a, "agent", "app=agent", "node-1", "node-2")
	if got := str(path(dsPodsByNode(t, a, "app=agent")["node-2"][0], "metadata", "name")); got != victim {
		t.Fatalf("the daemon pod on node-2 was replaced: %s -> %s", victim, got)
	}
}
