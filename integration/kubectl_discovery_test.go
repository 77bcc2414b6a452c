package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestKubectlAPIResourcesAndGetAll: `kubectl api-resources` lists every kind with
// its short names, verbs (deletecollection included) and categories, `kubectl get
// all` shows what it shows on a cluster, `kubectl get apiservices` lists the served
// group/versions as Local and Available, and `kubectl delete ... -l` and `--all`
// work.
func TestKubectlAPIResourcesAndGetAll(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)

	out := k.within(30*time.Second, "api-resources", "-o", "wide")
	for _, re := range []string{
		`(?m)^pods\s+po\s+v1\s+true\s+Pod\s+create,delete,deletecollection,get,list,patch,update,watch\s+all$`,
		`(?m)^namespaces\s+ns\s+v1\s+false\s+Namespace\s+create,delete,get,list,patch,update,watch\s*$`,
		`(?m)^deployments\s+deploy\s+apps/v1\s+true\s+Deployment\s+create,delete,deletecollection,get,list,patch,update,watch\s+all$`,
		`(?m)^configmaps\s+cm\s+v1\s+true\s+ConfigMap\s+create,delete,deletecollection,get,list,patch,update,watch\s*$`,
		`(?m)^cronjobs\s+cj\s+batch/v1\s+true\s+CronJob\s+.*deletecollection.*\s+all$`,
		`(?m)^apiservices\s+apiregistration.k8s.io/v1\s+false\s+APIService\s+get,list\s+api-extensions$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("kubectl api-resources -o wide lacks %s:\n%s", re, out)
		}
	}
	if out := k.within(30*time.Second, "api-resources", "--verbs=deletecollection", "-o", "name"); strings.Contains(out, "namespaces\n") || !strings.Contains(out, "secrets\n") {
		t.Errorf("kubectl api-resources --verbs=deletecollection:\n%s", out)
	}

	file := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(file, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web, labels: {app: web}}
data: {a: b}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	k.within(30*time.Second, "apply", "-f", file)
	k.within(60*time.Second, "rollout", "status", "deployment/web", "--timeout=50s")
	out = k.within(30*time.Second, "get", "all")
	for _, re := range []string{`(?m)^pod/web-[a-z0-9]+-[a-z0-9]{5}\s+1/1\s+Running`, `(?m)^service/web\s+ClusterIP`,
		`(?m)^deployment.apps/web\s+2/2`, `(?m)^replicaset.apps/web-[a-z0-9]+\s+2\s+2\s+2`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("kubectl get all lacks %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "configmap") {
		t.Errorf("kubectl get all shows configmaps (not in the category all):\n%s", out)
	}

	out = k.within(30*time.Second, "get", "apiservices")
	for _, re := range []string{`(?m)^NAME\s+SERVICE\s+AVAILABLE\s+AGE$`, `(?m)^v1\.\s+Local\s+True\s+\S+$`, `(?m)^v1\.apps\s+Local\s+True\s+\S+$`,
		`(?m)^v2\.autoscaling\s+Local\s+True\s+\S+$`, `(?m)^v1\.apiregistration\.k8s\.io\s+Local\s+True\s+\S+$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("kubectl get apiservices lacks %s:\n%s", re, out)
		}
	}

	// Deleting by selector and everything of a kind, object by object as kubectl does.
	k.within(30*time.Second, "delete", "configmaps,services", "-l", "app=web")
	k.within(60*time.Second, "delete", "deployments", "--all")
	if out := k.within(30*time.Second, "get", "deployments,services,configmaps", "-l", "app=web", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("left after delete:\n%s", out)
	}
}
