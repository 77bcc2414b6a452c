package integration

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

const storageClassesPath = "/apis/storage.k8s.io/v1/storageclasses"

// createStorageClass applies storageclass-my-storage-class.yaml, the class
// statefulset-web.yaml names (as the StatefulSet tutorial's cluster must offer it).
func createStorageClass(t *testing.T, a api) {
	t.Helper()
	a.expect(a.do(http.MethodPost, storageClassesPath, "application/yaml", readManifest(t, "storageclass-my-storage-class.yaml")),
		http.StatusCreated, "create my-storage-class")
}

// claimEvents are the reasons and messages of the events about a claim.
func claimEvents(a api, claim string) []string {
	var out []string
	for _, e := range items(a.mustGet("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D" + claim)) {
		out = append(out, str(e["type"])+" "+str(e["reason"])+": "+str(e["message"]))
	}
	return out
}

// TestStorageClassesWithKubectl: the default class "standard" exists from the start
// and is what a claim without class gets; a claim naming a class that does not exist
// stays Pending with Kubernetes' ProvisioningFailed event, and is bound once `kubectl
// apply` makes the class; `kubectl get sc` prints kubectl's columns.
func TestStorageClassesWithKubectl(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	k := newKubectl(t, bin, s.GatewayURL)

	std := a.mustGet(storageClassesPath + "/standard")
	if str(path(std, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class")) != "true" ||
		str(path(std, "reclaimPolicy")) != "Delete" || str(path(std, "volumeBindingMode")) != "Immediate" {
		t.Fatalf("standard: %s", mustJSON(std))
	}

	// No class: the DefaultStorageClass admission gives "standard" at once.
	claim := func(name, class string) []byte {
		c := ""
		if class != "" {
			c = fmt.Sprintf(`"storageClassName":%q,`, class)
		}
		return fmt.Appendf(nil, `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":%q},
"spec":{%s"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}`, name, c)
	}
	got := a.expect(a.do(http.MethodPost, claimsPath, "application/json", claim("plain", "")), http.StatusCreated, "claim without class")
	if str(path(got, "spec", "storageClassName")) != "standard" {
		t.Fatalf("claim without class: %s", mustJSON(got["spec"]))
	}

	// A class that does not exist: Pending, with the PV controller's event.
	a.expect(a.do(http.MethodPost, claimsPath, "application/json", claim("www", "my-storage-class")), http.StatusCreated, "claim of a missing class")
	want := `Warning ProvisioningFailed: storageclass.storage.k8s.io "my-storage-class" not found`
	eventually(t, 30*time.Second, "ProvisioningFailed", func() (bool, string) {
		evs := claimEvents(a, "www")
		return strings.Contains(strings.Join(evs, "\n"), want), strings.Join(evs, "\n")
	})
	if phase := str(path(a.mustGet(claimsPath+"/www"), "status", "phase")); phase != "Pending" {
		t.Fatalf("claim of a missing class is %s", phase)
	}

	// The class made: the claim is bound to a volume of that class.
	k.within(30*time.Second, "apply", "-f", "testdata/manifests/storageclass-my-storage-class.yaml")
	eventually(t, 30*time.Second, "www bound", func() (bool, string) {
		c := a.mustGet(claimsPath + "/www")
		return str(path(c, "status", "phase")) == "Bound", string(mustJSON(c["status"]))
	})
	vol := a.mustGet("/api/v1/persistentvolumes/" + str(path(a.mustGet(claimsPath+"/www"), "spec", "volumeName")))
	if str(path(vol, "spec", "storageClassName")) != "my-storage-class" || str(path(vol, "spec", "persistentVolumeReclaimPolicy")) != "Delete" ||
		str(path(vol, "metadata", "annotations", "pv.kubernetes.io/provisioned-by")) != "podwarden.io/simulated" {
		t.Fatalf("volume: %s", mustJSON(vol))
	}

	out := k.within(30*time.Second, "get", "sc")
	if !regexp.MustCompile(`(?m)^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^standard \(default\)\s+podwarden.io/simulated\s+Delete\s+Immediate\s+false\s+\S+$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^my-storage-class\s+podwarden.io/simulated\s+Delete\s+Immediate\s+false\s+\S+$`).MatchString(out) {
		t.Fatalf("kubectl get sc:\n%s", out)
	}

	// A class's provisioner cannot change; the error names the field and nothing changes.
	r := a.mergePatch(storageClassesPath+"/my-storage-class", `{"provisioner":"example.com/other"}`)
	if r.Code != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "provisioner: Forbidden: updates to provisioner are forbidden.") {
		t.Fatalf("provisioner change: %d %s", r.Code, r.Body)
	}
	k.within(30*time.Second, "delete", "sc", "my-storage-class")
	a.expect(a.get(storageClassesPath+"/my-storage-class"), http.StatusNotFound, "deleted class")
}

// TestStorageClassBindingModeAndReclaim: the claims of a WaitForFirstConsumer class
// stay Pending (event WaitForFirstConsumer) until their pod is scheduled, then are
// provisioned on its node; with reclaimPolicy Retain their volumes are Released,
// not deleted, when the claims go.
func TestStorageClassBindingModeAndReclaim(t *testing.T) {
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_SIM_SCHEDULE_DELAY=1s"}})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.do(http.MethodPost, storageClassesPath, "application/json", []byte(`{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass",
"metadata":{"name":"local"},"provisioner":"example.com/local","reclaimPolicy":"Retain","volumeBindingMode":"WaitForFirstConsumer"}`)),
		http.StatusCreated, "create class")
	body := `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},"spec":{"serviceName":"db","replicas":1,
"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete"},
"selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"db","image":"postgres:16"}]}},
"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"storageClassName":"local","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"2Gi"}}}}]}}`
	a.expect(a.do(http.MethodPost, statefulSetsPath, "application/json", []byte(body)), http.StatusCreated, "create")

	// Before the pod is scheduled (the scheduler waits a second): Pending, waiting.
	eventually(t, 30*time.Second, "WaitForFirstConsumer", func() (bool, string) {
		evs := claimEvents(a, "data-db-0")
		return strings.Contains(strings.Join(evs, "\n"), "Normal WaitForFirstConsumer: waiting for first consumer to be created before binding"), strings.Join(evs, "\n")
	})
	// The pod may not be at the node service yet (the claim's event can come first):
	// then it is not scheduled either.
	node := ""
	if r := a.get("/api/v1/namespaces/default/pods/db-0"); r.Code == http.StatusOK {
		node = str(path(r.JSON(), "spec", "nodeName"))
	}
	c := a.mustGet(claimsPath + "/data-db-0")
	if node == "" && str(path(c, "status", "phase")) != "Pending" {
		t.Fatalf("claim %s before its pod is scheduled", str(path(c, "status", "phase")))
	}

	// Scheduled: bound, on the pod's node.
	eventually(t, 30*time.Second, "data-db-0 bound", func() (bool, string) {
		c := a.mustGet(claimsPath + "/data-db-0")
		return str(path(c, "status", "phase")) == "Bound", string(mustJSON(c))
	})
	pod := a.mustGet("/api/v1/namespaces/default/pods/db-0")
	c = a.mustGet(claimsPath + "/data-db-0")
	if node := str(path(pod, "spec", "nodeName")); node == "" || str(path(c, "metadata", "annotations", "volume.kubernetes.io/selected-node")) != node {
		t.Fatalf("claim %s, pod on %q", mustJSON(path(c, "metadata", "annotations")), node)
	}
	volName := str(path(c, "spec", "volumeName"))
	if v := a.mustGet("/api/v1/persistentvolumes/" + volName); str(path(v, "spec", "persistentVolumeReclaimPolicy")) != "Retain" {
		t.Fatalf("volume %s", mustJSON(v))
	}

	// The set deleted (whenDeleted Delete): the claim goes, its volume is Released.
	a.expect(a.do(http.MethodDelete, statefulSetsPath+"/db", "", nil), http.StatusOK, "delete")
	eventually(t, 30*time.Second, "claim gone, volume Released", func() (bool, string) {
		cl := a.get(claimsPath + "/data-db-0")
		v := a.mustGet("/api/v1/persistentvolumes/" + volName)
		return cl.Code == http.StatusNotFound && str(path(v, "status", "phase")) == "Released", fmt.Sprintf("claim %d, volume %s", cl.Code, mustJSON(v["status"]))
	})
}
