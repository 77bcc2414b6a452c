package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

const controllerRevisionsPath = "/apis/apps/v1/namespaces/default/controllerrevisions"

// revisionsByOwner lists default's ControllerRevisions as "<kind>/<owner>" ->
// revision numbers (sorted), checking that the numbers are JSON numbers and the
// items come sorted by name.
func revisionsByOwner(t *testing.T, a api) map[string][]int64 {
	t.Helper()
	r := a.get(controllerRevisionsPath)
	if r.Code != http.StatusOK {
		t.Fatalf("list controllerrevisions: %d %s", r.Code, r.Body)
	}
	var list struct {
		Kind  string `json:"kind"`
		Items []struct {
			Metadata struct {
				Name            string `json:"name"`
				OwnerReferences []struct {
					Kind       string `json:"kind"`
					Name       string `json:"name"`
					Controller bool   `json:"controller"`
				} `json:"ownerReferences"`
			} `json:"metadata"`
			Revision json.RawMessage `json:"revision"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.Body, &list); err != nil || list.Kind != "ControllerRevisionList" {
		t.Fatalf("list controllerrevisions: %v %s", err, r.Body)
	}
	out := map[string][]int64{}
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Metadata.Name)
		var n int64
		if err := json.Unmarshal(it.Revision, &n); err != nil {
			t.Fatalf("%s: revision %s is not a JSON number", it.Metadata.Name, it.Revision)
		}
		owner := "<none>"
		for _, ref := range it.Metadata.OwnerReferences {
			if ref.Controller {
				owner = ref.Kind + "/" + ref.Name
			}
		}
		out[owner] = append(out[owner], n)
	}
	if !sort.StringsAreSorted(names) {
		t.Fatalf("items not sorted by name: %v", names)
	}
	for _, revs := range out {
		sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	}
	return out
}

// kubectl runs the real kubectl against the gateway, with its own kubeconfig
// and discovery cache, and returns its standard output.
type kubectl struct {
	t          *testing.T
	bin        string
	kubeconfig string
	cacheDir   string
}

func newKubectl(t *testing.T, bin, server string) kubectl {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: podwarden
  cluster:
    server: %s
contexts:
- name: podwarden
  context:
    cluster: podwarden
    namespace: default
current-context: podwarden
`, server)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubectl{t: t, bin: bin, kubeconfig: kc, cacheDir: filepath.Join(dir, "cache")}
}

func (k kubectl) run(args ...string) string {
	k.t.Helper()
	cmd := exec.Command(k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "--request-timeout", "30s"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		k.t.Fatalf("kubectl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	k.t.Logf("$ kubectl %s\n%s", strings.Join(args, " "), stdout.String())
	return stdout.String()
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

// historyRevisions reads the REVISION column of `kubectl rollout history`.
func historyRevisions(out string) []string {
	var revs []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "REVISION" && !strings.Contains(f[0], "/") {
			revs = append(revs, f[0])
		}
	}
	return revs
}

// template is the workload's spec.template as stored.
func template(t *testing.T, a api, objPath string) any {
	t.Helper()
	return path(a.mustGet(objPath), "spec", "template")
}

func dsImages(t *testing.T, a api, selector string) []string {
	t.Helper()
	var out []string
	for _, pods := range dsPodsByNode(t, a, selector) {
		for _, p := range pods {
			if dsPodReady(p) {
				out = append(out, podImage(p))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestControllerRevisionsAndKubectlRollout: a StatefulSet and a DaemonSet each
// change image once; the gateway serves both services' ControllerRevisions at
// /apis/apps/v1/.../controllerrevisions, and `kubectl rollout history` and
// `kubectl rollout undo` work for both (when kubectl is on PATH).
func TestControllerRevisionsAndKubectlRollout(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	informed := revisionInformer(t, s.GatewayURL) // the merged watch, as a client-go informer sees it

	createStorageClass(t, a)
	docs := documents(readManifest(t, "statefulset-web.yaml"))
	a.expect(a.do(http.MethodPost, servicesPath, "application/yaml", docs[0]), http.StatusCreated, "create service")
	a.expect(a.do(http.MethodPost, statefulSetsPath, "application/yaml", docs[1]), http.StatusCreated, "create statefulset")
	a.expect(a.postJSON(daemonSetsPath, rawJSON(dsJSON("agent", "busybox:1.36", "", `"terminationGracePeriodSeconds":5,`))), http.StatusCreated, "create daemonset")
	img, newImg := "registry.k8s.io/nginx-slim:0.8", "registry.k8s.io/nginx-slim:0.9"
	stsSettled(t, a, "web", "nginx", img, img, img)
	dsOnExactly(t, a, "agent", "app=agent", "node-1", "node-2")
	stsTemplate, dsTemplate := template(t, a, statefulSetsPath+"/web"), template(t, a, daemonSetsPath+"/agent")

	// One new image each, as `kubectl set image` sends it.
	smp := func(p, container, image string) {
		a.expect(a.do(http.MethodPatch, p, "application/strategic-merge-patch+json",
			fmt.Appendf(nil, `{"spec":{"template":{"spec":{"containers":[{"name":%q,"image":%q}]}}}}`, container, image)), http.StatusOK, "set image "+p)
	}
	smp(statefulSetsPath+"/web", "nginx", newImg)
	smp(daemonSetsPath+"/agent", "c", "busybox:1.37")
	stsSettled(t, a, "web", "nginx", newImg, newImg, newImg)
	eventually(t, 60*time.Second, "agent on busybox:1.37", func() (bool, string) {
		got := dsImages(t, a, "app=agent")
		return reflect.DeepEqual(got, []string{"busybox:1.37", "busybox:1.37"}), fmt.Sprint(got)
	})

	// Both services' revisions in one list, numbered 1 and 2.
	var revs map[string][]int64
	eventually(t, 30*time.Second, "two revisions each", func() (bool, string) {
		revs = revisionsByOwner(t, a)
		return fmt.Sprint(revs["StatefulSet/web"]) == "[1 2]" && fmt.Sprint(revs["DaemonSet/agent"]) == "[1 2]", fmt.Sprint(revs)
	})
	if len(revs) != 2 {
		t.Fatalf("revisions %v: want only web's and agent's", revs)
	}
	eventually(t, 30*time.Second, "the informer has the four revisions", func() (bool, string) {
		got := informed()
		return len(got) == 4, fmt.Sprint(got)
	})
	// Get by name, and a Status 404 for a name nobody has.
	list := a.mustGet(controllerRevisionsPath + "?labelSelector=app%3Dagent")
	if len(items(list)) != 2 {
		t.Fatalf("app=agent: %s", mustJSON(list))
	}
	name := str(path(items(list)[0], "metadata", "name"))
	if got := a.mustGet(controllerRevisionsPath + "/" + name); str(path(got, "metadata", "name")) != name || str(got["kind"]) != "ControllerRevision" {
		t.Fatalf("get %s: %s", name, mustJSON(got))
	}
	nf := a.expect(a.get(controllerRevisionsPath+"/nope"), http.StatusNotFound, "get a missing revision")
	if str(nf["kind"]) != "Status" || str(nf["reason"]) != "NotFound" || str(path(nf, "details", "kind")) != "controllerrevisions" {
		t.Fatalf("not found: %s", mustJSON(nf))
	}

	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl is not on PATH: the kubectl rollout history/undo part is skipped")
		return
	}
	k := newKubectl(t, bin, s.GatewayURL)

	wantLines(t, k.run("get", "controllerrevisions"), "CONTROLLER", "statefulset.apps/web", "daemonset.apps/agent")
	for _, w := range []struct{ res, oldImage string }{{"statefulset/web", img}, {"daemonset/agent", "busybox:1.36"}} {
		out := k.run("rollout", "history", w.res)
		if got := historyRevisions(out); fmt.Sprint(got) != "[1 2]" {
			t.Fatalf("rollout history %s: revisions %v\n%s", w.res, got, out)
		}
		wantLines(t, k.run("rollout", "history", w.res, "--revision=1"), "with revision #1", w.oldImage)
		wantLines(t, k.run("rollout", "undo", w.res), "rolled back")
	}

	// The templates are back, exactly, and so are the pods; the history moved on.
	stsSettled(t, a, "web", "nginx", img, img, img)
	eventually(t, 60*time.Second, "agent back on busybox:1.36", func() (bool, string) {
		got := dsImages(t, a, "app=agent")
		return reflect.DeepEqual(got, []string{"busybox:1.36", "busybox:1.36"}), fmt.Sprint(got)
	})
	for p, want := range map[string]any{statefulSetsPath + "/web": stsTemplate, daemonSetsPath + "/agent": dsTemplate} {
		if got := template(t, a, p); !reflect.DeepEqual(got, want) {
			t.Errorf("%s template after undo:\n%s\nwant the original\n%s", p, mustJSON(got), mustJSON(want))
		}
	}
	for _, res := range []string{"statefulset/web", "daemonset/agent"} {
		var out string
		eventually(t, 30*time.Second, res+" history 2 3", func() (bool, string) {
			out = k.run("rollout", "history", res)
			return fmt.Sprint(historyRevisions(out)) == "[2 3]", out
		})
	}
}
