package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

const (
	statefulSetsPath = "/apis/apps/v1/namespaces/default/statefulsets"
	claimsPath       = "/api/v1/namespaces/default/persistentvolumeclaims"
	servicesPath     = "/api/v1/namespaces/default/services"
)

// podEvent is one pod watch event, reduced to what ordering checks need.
type podEvent struct {
	Type, Name, UID, Image, Revision string
	Ready, Deleting                  bool
}

// podRecorder records a pod watch stream (the gateway's ?watch=true), so tests can
// check orderings exactly instead of sampling.
type podRecorder struct {
	mu     sync.Mutex
	events []podEvent
}

func recordPods(t *testing.T, s *harness.System, selector string) *podRecorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.GatewayURL+"/api/v1/namespaces/default/pods?watch=true&labelSelector="+url.QueryEscape(selector), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch pods: %d", resp.StatusCode)
	}
	r := &podRecorder{}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() {
			var ev struct {
				Type   string         `json:"type"`
				Object map[string]any `json:"object"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			o := ev.Object
			var image string
			if cs := asList(path(o, "spec", "containers")); len(cs) > 0 {
				image = str(path(cs[0], "image"))
			}
			r.mu.Lock()
			r.events = append(r.events, podEvent{Type: ev.Type, Name: str(path(o, "metadata", "name")), UID: str(path(o, "metadata", "uid")),
				Image: image, Revision: str(path(o, "metadata", "labels", "controller-revision-hash")),
				Ready: dsPodReady(o), Deleting: path(o, "metadata", "deletionTimestamp") != nil})
			r.mu.Unlock()
		}
	}()
	return r
}

// mark is the position of the next event: check(since) looks only at later events.
func (r *podRecorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *podRecorder) since(i int) []podEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]podEvent(nil), r.events[i:]...)
}

// noOrdinalDoubled: a name never has two live pods (uids) at once.
func noOrdinalDoubled(t *testing.T, evs []podEvent) {
	t.Helper()
	live := map[string]string{}
	for _, e := range evs {
		switch {
		case e.Type == "DELETED":
			if live[e.Name] == e.UID {
				delete(live, e.Name)
			}
		case live[e.Name] == "":
			live[e.Name] = e.UID
		case live[e.Name] != e.UID:
			t.Fatalf("two pods named %s at once (uids %s and %s)", e.Name, live[e.Name], e.UID)
		}
	}
}

// stsPods lists the live pods of app=<app> by name.
func stsPods(t *testing.T, a api, app string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, p := range items(a.mustGet("/api/v1/namespaces/default/pods?labelSelector=" + url.QueryEscape("app="+app))) {
		if path(p, "metadata", "deletionTimestamp") == nil {
			out[str(path(p, "metadata", "name"))] = p
		}
	}
	return out
}

func podImage(p map[string]any) string {
	if cs := asList(path(p, "spec", "containers")); len(cs) > 0 {
		return str(path(cs[0], "image"))
	}
	return ""
}

// stsSettled waits until exactly web-0..n-1 run ready with the given images (by
// ordinal) and the status agrees.
func stsSettled(t *testing.T, a api, name, app string, images ...string) map[string]map[string]any {
	t.Helper()
	var pods map[string]map[string]any
	eventually(t, 90*time.Second, fmt.Sprintf("%s settled with %v", name, images), func() (bool, string) {
		pods = stsPods(t, a, app)
		ok := len(pods) == len(images)
		var got []string
		for i, img := range images {
			p := pods[fmt.Sprintf("%s-%d", name, i)]
			ok = ok && p != nil && dsPodReady(p) && podImage(p) == img
			got = append(got, podImage(p))
		}
		set := a.mustGet(statefulSetsPath + "/" + name)
		st := path(set, "status")
		ok = ok && num(path(st, "readyReplicas")) == len(images) && num(path(st, "replicas")) == len(images) &&
			num(path(st, "availableReplicas")) == len(images) && num(path(st, "observedGeneration")) == num(path(set, "metadata", "generation"))
		return ok, fmt.Sprintf("pods %v images %v status %s", sortedKeys(pods), got, mustJSON(st))
	})
	return pods
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// readyBeforeNext: each ADDED of <name>-k comes after <name>-(k-1) was seen Ready.
func readyBeforeNext(t *testing.T, evs []podEvent, name string, from, to int) {
	t.Helper()
	ready := map[string]bool{}
	for _, e := range evs {
		if e.Ready && !e.Deleting {
			ready[e.Name] = true
		}
		if e.Type != "ADDED" {
			continue
		}
		for k := from + 1; k <= to; k++ {
			if e.Name == fmt.Sprintf("%s-%d", name, k) && !ready[fmt.Sprintf("%s-%d", name, k-1)] {
				t.Fatalf("%s created before %s-%d was Running and Ready", e.Name, name, k-1)
			}
		}
	}
}

// deletionOrder is the order in which pods were first marked for deletion (or
// deleted), one entry per pod uid.
func deletionOrder(evs []podEvent) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range evs {
		if (e.Deleting || e.Type == "DELETED") && !seen[e.UID] {
			seen[e.UID] = true
			out = append(out, e.Name)
		}
	}
	return out
}

// TestStatefulSetUserStory follows the StatefulSet tutorial through the REST
// gateway with statefulset-web.yaml: ordered creation, claims bound, scaling up and
// down in order, a deleted pod coming back with its claim, a partitioned canary,
// the full roll highest ordinal first, rollback, orphaning delete and adoption.
func TestStatefulSetUserStory(t *testing.T) {
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_SIM_READY_DELAY=150ms"}})
	a := api{t: t, base: s.GatewayURL}
	rec := recordPods(t, s, "app=nginx")

	createStorageClass(t, a)
	docs := documents(readManifest(t, "statefulset-web.yaml"))
	a.expect(a.do(http.MethodPost, servicesPath, "application/yaml", docs[0]), http.StatusCreated, "create service")
	set := a.expect(a.do(http.MethodPost, statefulSetsPath, "application/yaml", docs[1]), http.StatusCreated, "create statefulset")
	if spec := path(set, "spec"); str(path(spec, "podManagementPolicy")) != "OrderedReady" || str(path(spec, "updateStrategy", "type")) != "RollingUpdate" ||
		num(path(spec, "revisionHistoryLimit")) != 10 || str(path(spec, "persistentVolumeClaimRetentionPolicy", "whenScaled")) != "Retain" {
		t.Fatalf("defaults: %s", mustJSON(spec))
	}
	img := "registry.k8s.io/nginx-slim:0.8"
	pods := stsSettled(t, a, "web", "nginx", img, img, img)
	readyBeforeNext(t, rec.since(0), "web", 0, 2)
	for i := 0; i < 3; i++ {
		p := pods[fmt.Sprintf("web-%d", i)]
		n := fmt.Sprintf("web-%d", i)
		if str(path(p, "spec", "hostname")) != n || str(path(p, "spec", "subdomain")) != "nginx" ||
			str(path(p, "metadata", "labels", "statefulset.kubernetes.io/pod-name")) != n ||
			str(path(p, "metadata", "labels", "apps.kubernetes.io/pod-index")) != fmt.Sprint(i) ||
			!strings.HasPrefix(str(path(p, "metadata", "labels", "controller-revision-hash")), "web-") {
			t.Errorf("identity of %s: %s", n, mustJSON(path(p, "metadata")))
		}
		vol := asList(path(p, "spec", "volumes"))
		if len(vol) == 0 || str(path(vol[0], "persistentVolumeClaim", "claimName")) != "www-"+n {
			t.Errorf("%s mounts %s", n, mustJSON(vol))
		}
	}

	// The headless Service's names, answered by the cluster DNS over the wire.
	stsDNS(t, s, a, 3)

	// Claims www-web-0..2 Bound to provisioned volumes of the template's class and size.
	claimUID := map[string]string{}
	eventually(t, 30*time.Second, "claims bound", func() (bool, string) {
		cl := items(a.mustGet(claimsPath))
		ok := len(cl) == 3
		for _, c := range cl {
			claimUID[str(path(c, "metadata", "name"))] = str(path(c, "metadata", "uid"))
			ok = ok && str(path(c, "status", "phase")) == "Bound" && str(path(c, "status", "capacity", "storage")) == "1Gi" &&
				str(path(c, "spec", "volumeName")) != ""
		}
		return ok, string(mustJSON(cl))
	})
	for _, n := range []string{"www-web-0", "www-web-1", "www-web-2"} {
		if claimUID[n] == "" {
			t.Fatalf("claim %s missing: %v", n, claimUID)
		}
	}
	pvs := items(a.mustGet("/api/v1/persistentvolumes"))
	if len(pvs) != 3 {
		t.Fatalf("%d volumes", len(pvs))
	}
	for _, v := range pvs {
		if str(path(v, "spec", "storageClassName")) != "my-storage-class" || str(path(v, "spec", "capacity", "storage")) != "1Gi" ||
			str(path(v, "status", "phase")) != "Bound" || str(path(v, "spec", "claimRef", "namespace")) != "default" {
			t.Errorf("volume %s", mustJSON(v))
		}
	}

	// Scale to 5, in order; back to 2, highest first, each gone before the next.
	m := rec.mark()
	a.expect(a.mergePatch(statefulSetsPath+"/web/scale", `{"spec":{"replicas":5}}`), http.StatusOK, "scale to 5")
	stsSettled(t, a, "web", "nginx", img, img, img, img, img)
	readyBeforeNext(t, rec.since(0), "web", 2, 4)
	m = rec.mark()
	a.expect(a.mergePatch(statefulSetsPath+"/web", `{"spec":{"replicas":2}}`), http.StatusOK, "scale to 2")
	stsSettled(t, a, "web", "nginx", img, img)
	evs := rec.since(m)
	if got := strings.Join(deletionOrder(evs), ","); got != "web-4,web-3,web-2" {
		t.Fatalf("scale-down order %s", got)
	}
	for i, e := range evs { // web-3 is marked for deletion only after web-4 is gone
		if e.Name == "web-3" && e.Deleting {
			gone := false
			for _, b := range evs[:i] {
				gone = gone || (b.Name == "web-4" && b.Type == "DELETED")
			}
			if !gone {
				t.Fatalf("web-3 deleted while web-4 was still there")
			}
			break
		}
	}
	// The claims stay (whenScaled: Retain).
	if n := len(items(a.mustGet(claimsPath))); n != 5 {
		t.Fatalf("%d claims after scaling down, want 5 (retained)", n)
	}

	stsDNS(t, s, a, 2)

	// A deleted pod comes back under its name, with its claim.
	old := stsPods(t, a, "nginx")["web-1"]
	a.expect(a.do(http.MethodDelete, "/api/v1/namespaces/default/pods/web-1", "", nil), http.StatusOK, "delete web-1")
	eventually(t, 30*time.Second, "web-1 back", func() (bool, string) {
		p := stsPods(t, a, "nginx")["web-1"]
		return p != nil && dsPodReady(p) && str(path(p, "metadata", "uid")) != str(path(old, "metadata", "uid")), string(mustJSON(path(p, "metadata")))
	})
	if c := a.mustGet(claimsPath + "/www-web-1"); str(path(c, "metadata", "uid")) != claimUID["www-web-1"] {
		t.Fatalf("web-1 came back with another claim")
	}

	// Canary: partition 3 and a new image: only web-3 and web-4 are updated.
	a.expect(a.mergePatch(statefulSetsPath+"/web", `{"spec":{"replicas":5}}`), http.StatusOK, "scale to 5 again")
	stsSettled(t, a, "web", "nginx", img, img, img, img, img)
	newImg := "registry.k8s.io/nginx-slim:0.9"
	a.expect(a.mergePatch(statefulSetsPath+"/web", fmt.Sprintf(`{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":3}},
		"template":{"spec":{"containers":[{"name":"nginx","image":%q}]}}}}`, newImg)), http.StatusOK, "canary")
	stsSettled(t, a, "web", "nginx", img, img, img, newImg, newImg)
	st := path(a.mustGet(statefulSetsPath+"/web"), "status")
	if num(path(st, "updatedReplicas")) != 2 || num(path(st, "currentReplicas")) != 3 || str(path(st, "currentRevision")) == str(path(st, "updateRevision")) {
		t.Fatalf("canary status %s", mustJSON(st))
	}
	rs := a.mustGet(statefulSetsPath + "/web/rolloutstatus")
	if !strings.Contains(str(rs["message"]), "partitioned roll out complete: 2 new pods have been updated") {
		t.Fatalf("rollout status %s", mustJSON(rs))
	}

	// Partition 0: the rest roll, highest ordinal first, one at a time.
	m = rec.mark()
	a.expect(a.mergePatch(statefulSetsPath+"/web", `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}`), http.StatusOK, "partition 0")
	stsSettled(t, a, "web", "nginx", newImg, newImg, newImg, newImg, newImg)
	evs = rec.since(m)
	if got := strings.Join(deletionOrder(evs), ","); got != "web-2,web-1,web-0" {
		t.Fatalf("roll order %s", got)
	}
	oneAtATime(t, evs)
	eventually(t, 30*time.Second, "update revision current", func() (bool, string) {
		st := path(a.mustGet(statefulSetsPath+"/web"), "status")
		return str(path(st, "currentRevision")) == str(path(st, "updateRevision")) && num(path(st, "currentReplicas")) == 5, string(mustJSON(st))
	})

	// History and rollback to the previous revision.
	h := a.mustGet(statefulSetsPath + "/web/history")
	if n := len(asList(h["items"])); n != 2 {
		t.Fatalf("history: %s", mustJSON(h))
	}
	a.expect(a.postJSON(statefulSetsPath+"/web/rollback", map[string]any{}), http.StatusOK, "rollback")
	stsSettled(t, a, "web", "nginx", img, img, img, img, img)

	// Orphaning delete: the pods stay; a re-created StatefulSet adopts them.
	before := stsPods(t, a, "nginx")
	a.expect(a.do(http.MethodDelete, statefulSetsPath+"/web?propagationPolicy=Orphan", "", nil), http.StatusOK, "delete orphan")
	eventually(t, 30*time.Second, "statefulset gone, pods orphaned", func() (bool, string) {
		if a.get(statefulSetsPath+"/web").Code != http.StatusNotFound {
			return false, "still there"
		}
		pods := stsPods(t, a, "nginx")
		ok := len(pods) == 5
		for _, p := range pods {
			ok = ok && len(asList(path(p, "metadata", "ownerReferences"))) == 0
		}
		return ok, fmt.Sprint(sortedKeys(pods))
	})
	a.expect(a.do(http.MethodPost, statefulSetsPath, "application/yaml", []byte(strings.Replace(string(docs[1]), "replicas: 3", "replicas: 5", 1))),
		http.StatusCreated, "re-create")
	newUID := str(path(a.mustGet(statefulSetsPath+"/web"), "metadata", "uid"))
	eventually(t, 30*time.Second, "pods adopted", func() (bool, string) {
		pods := stsPods(t, a, "nginx")
		ok := len(pods) == 5
		for n, p := range pods {
			refs := asList(path(p, "metadata", "ownerReferences"))
			ok = ok && len(refs) == 1 && str(path(refs[0], "uid")) == newUID &&
				str(path(p, "metadata", "uid")) == str(path(before[n], "metadata", "uid"))
		}
		return ok, fmt.Sprint(sortedKeys(pods))
	})
	stsSettled(t, a, "web", "nginx", img, img, img, img, img)
	noOrdinalDoubled(t, rec.since(0))

	// Events name what happened.
	evList := items(a.mustGet("/api/v1/namespaces/default/events"))
	var reasons []string
	for _, e := range evList {
		if str(path(e, "involvedObject", "kind")) == "StatefulSet" {
			reasons = append(reasons, str(e["reason"])+": "+str(e["message"]))
		}
	}
	joined := strings.Join(reasons, "\n")
	for _, want := range []string{"create Pod web-0 in StatefulSet web successful", "create Claim www-web-0 Pod web-0 in StatefulSet web success",
		"delete Pod web-4 in StatefulSet web successful"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no event %q in:\n%s", want, joined)
		}
	}
}

// stsDNS: web-<i>.nginx.default.svc.cluster.local is web-i's IP, and the headless
// nginx.default.svc.cluster.local is every ready pod's IP, over UDP and TCP.
func stsDNS(t *testing.T, s *harness.System, a api, n int) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("DNS answers for %d pods", n), func() (bool, string) {
		pods := stsPods(t, a, "nginx")
		var all []string
		for i := 0; i < n; i++ {
			ip := str(path(pods[fmt.Sprintf("web-%d", i)], "status", "podIP"))
			all = append(all, ip)
			for _, network := range []string{"udp", "tcp"} {
				rc, ips, err := dnsA(s, network, fmt.Sprintf("web-%d.nginx.default.svc.cluster.local", i))
				if err != nil || rc != 0 || len(ips) != 1 || ips[0] != ip {
					return false, fmt.Sprintf("web-%d over %s: rcode %d %v %v, pod IP %s", i, network, rc, ips, err, ip)
				}
			}
		}
		sort.Strings(all)
		rc, ips, err := dnsA(s, "udp", "nginx.default.svc.cluster.local")
		return err == nil && rc == 0 && strings.Join(ips, ",") == strings.Join(all, ","), fmt.Sprintf("service: %d %v %v, want %v", rc, ips, err, all)
	})
	if rc, _, err := dnsA(s, "udp", fmt.Sprintf("web-%d.nginx.default.svc.cluster.local", n)); err != nil || rc != 3 {
		t.Fatalf("web-%d (not a pod): rcode %d %v, want NXDOMAIN", n, rc, err)
	}
}

// oneAtATime: during a roll, a pod is marked for deletion only when no other pod
// of the set is being replaced (deleted and not yet back ready).
func oneAtATime(t *testing.T, evs []podEvent) {
	t.Helper()
	replacing := map[string]bool{}
	for _, e := range evs {
		switch {
		case e.Deleting && !replacing[e.Name]:
			for other := range replacing {
				if other != e.Name {
					t.Fatalf("%s deleted while %s was being replaced", e.Name, other)
				}
			}
			replacing[e.Name] = true
		case e.Type != "DELETED" && !e.Deleting && e.Ready:
			delete(replacing, e.Name)
		}
	}
}

// TestStatefulSetKilledMidRollout kills -9 the statefulset service between two
// ordinals of a rolling update; after a restart the update completes with every
// ordinal exactly once and never two pods of one name.
func TestStatefulSetKilledMidRollout(t *testing.T) {
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_SIM_READY_DELAY=300ms"}})
	a := api{t: t, base: s.GatewayURL}
	rec := recordPods(t, s, "app=web-canary")
	doc := strings.Replace(string(readManifest(t, "statefulset-partition.yaml")), "partition: 3", "partition: 0", 1)
	a.expect(a.do(http.MethodPost, statefulSetsPath, "application/yaml", []byte(doc)), http.StatusCreated, "create")
	img := "nginx:1.23.2-alpine"
	stsSettled(t, a, "web-canary", "web-canary", img, img, img, img, img)
	newImg := "nginx:1.25"
	a.expect(a.mergePatch(statefulSetsPath+"/web-canary", fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":%q}]}}}}`, newImg)),
		http.StatusOK, "set image")
	eventually(t, 30*time.Second, "web-canary-4 updated", func() (bool, string) {
		p := stsPods(t, a, "web-canary")["web-canary-4"]
		return p != nil && podImage(p) == newImg, string(mustJSON(path(p, "spec", "containers")))
	})
	s.Kill("statefulset")
	if _, err := s.StartService("statefulset", 0); err != nil {
		t.Fatal(err)
	}
	stsSettled(t, a, "web-canary", "web-canary", newImg, newImg, newImg, newImg, newImg)
	evs := rec.since(0)
	noOrdinalDoubled(t, evs)
	if n := len(stsPods(t, a, "web-canary")); n != 5 {
		t.Fatalf("%d pods", n)
	}
}

// TestStatefulSetParallelAndRetention: Parallel creates every pod at once and
// scales down at once; whenScaled/whenDeleted Delete remove the claims (and so
// the provisioned volumes) of removed ordinals and of the deleted set.
func TestStatefulSetParallelAndRetention(t *testing.T) {
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_SIM_READY_DELAY=300ms"}})
	a := api{t: t, base: s.GatewayURL}
	rec := recordPods(t, s, "app=db")
	body := `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},"spec":{"serviceName":"db","replicas":4,
"podManagementPolicy":"Parallel","persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Delete"},
"selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"db","image":"postgres:16"}]}},
"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"2Gi"}}}}]}}`
	a.expect(a.do(http.MethodPost, statefulSetsPath, "application/json", []byte(body)), http.StatusCreated, "create")
	stsSettled(t, a, "db", "db", "postgres:16", "postgres:16", "postgres:16", "postgres:16")
	// Parallel: all four were created before any was ready.
	created := 0
	for _, e := range rec.since(0) {
		if e.Ready {
			break
		}
		if e.Type == "ADDED" {
			created++
		}
	}
	if created != 4 {
		t.Fatalf("%d pods created before the first was ready, want 4 (Parallel)", created)
	}
	claims := items(a.mustGet(claimsPath + "?labelSelector=app%3Ddb"))
	if len(claims) != 4 || str(path(claims[0], "spec", "storageClassName")) != "standard" {
		t.Fatalf("claims %s", mustJSON(claims))
	}
	a.expect(a.mergePatch(statefulSetsPath+"/db", `{"spec":{"replicas":1}}`), http.StatusOK, "scale to 1")
	stsSettled(t, a, "db", "db", "postgres:16")
	eventually(t, 30*time.Second, "scaled-down claims and volumes deleted", func() (bool, string) {
		cl := items(a.mustGet(claimsPath + "?labelSelector=app%3Ddb"))
		pv := items(a.mustGet("/api/v1/persistentvolumes"))
		return len(cl) == 1 && str(path(cl[0], "metadata", "name")) == "data-db-0" && len(pv) == 1, fmt.Sprintf("%d claims %d volumes", len(cl), len(pv))
	})
	a.expect(a.do(http.MethodDelete, statefulSetsPath+"/db", "", nil), http.StatusOK, "delete")
	eventually(t, 30*time.Second, "pods, claims and volumes gone", func() (bool, string) {
		pods := stsPods(t, a, "db")
		cl := items(a.mustGet(claimsPath + "?labelSelector=app%3Ddb"))
		pv := items(a.mustGet("/api/v1/persistentvolumes"))
		return len(pods) == 0 && len(cl) == 0 && len(pv) == 0, fmt.Sprintf("%d pods %d claims %d volumes", len(pods), len(cl), len(pv))
	})
}

// TestStatefulSetBadInput: the bad inputs are rejected naming the field,
// and change nothing.
func TestStatefulSetBadInput(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	valid := func(name string) map[string]any {
		var m map[string]any
		_ = json.Unmarshal([]byte(fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":%q},"spec":{"serviceName":"svc","replicas":1,
"selector":{"matchLabels":{"app":%q}},"template":{"metadata":{"labels":{"app":%q}},"spec":{"containers":[{"name":"c","image":"i"}]}},
"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}`, name, name, name)), &m)
		return m
	}
	cases := map[string]struct {
		mutate func(spec map[string]any)
		field  string
	}{
		"missing serviceName":        {func(s map[string]any) { delete(s, "serviceName") }, "spec.serviceName"},
		"selector/template mismatch": {func(s map[string]any) { s["selector"] = map[string]any{"matchLabels": map[string]any{"app": "other"}} }, "spec.template.metadata.labels"},
		"partition < 0": {func(s map[string]any) {
			s["updateStrategy"] = map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"partition": -1}}
		}, "spec.updateStrategy.rollingUpdate.partition"},
		"maxUnavailable 0": {func(s map[string]any) {
			s["updateStrategy"] = map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxUnavailable": 0}}
		}, "spec.updateStrategy.rollingUpdate.maxUnavailable"},
		"claim template without storage": {func(s map[string]any) {
			s["volumeClaimTemplates"] = []any{map[string]any{"metadata": map[string]any{"name": "data"}, "spec": map[string]any{"accessModes": []any{"ReadWriteOnce"}}}}
		}, "spec.volumeClaimTemplates[0].spec.resources[storage]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := valid("bad")
			tc.mutate(obj["spec"].(map[string]any))
			r := a.postJSON(statefulSetsPath, obj)
			if r.Code != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), tc.field) {
				t.Fatalf("got %d %s, want 422 naming %s", r.Code, r.Body, tc.field)
			}
			if a.get(statefulSetsPath+"/bad").Code != http.StatusNotFound {
				t.Fatalf("a rejected StatefulSet was stored")
			}
		})
	}
	a.expect(a.postJSON(statefulSetsPath, valid("good")), http.StatusCreated, "create valid")
	immutable := map[string]string{
		"spec.selector":             `{"spec":{"selector":{"matchLabels":{"app":"good","x":"y"}},"template":{"metadata":{"labels":{"app":"good","x":"y"}}}}}`,
		"spec.serviceName":          `{"spec":{"serviceName":"other"}}`,
		"spec.podManagementPolicy":  `{"spec":{"podManagementPolicy":"Parallel"}}`,
		"spec.volumeClaimTemplates": `{"spec":{"volumeClaimTemplates":[{"metadata":{"name":"other"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}`,
	}
	before := a.mustGet(statefulSetsPath + "/good")
	for field, patch := range immutable {
		r := a.mergePatch(statefulSetsPath+"/good", patch)
		if r.Code != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), field) {
			t.Errorf("change of %s: got %d %s", field, r.Code, r.Body)
		}
	}
	after := a.mustGet(statefulSetsPath + "/good")
	if string(mustJSON(path(after, "spec"))) != string(mustJSON(path(before, "spec"))) || num(path(after, "metadata", "generation")) != 1 {
		t.Fatalf("rejected updates changed the object")
	}
}
