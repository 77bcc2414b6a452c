package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	k8scorev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podwarden/podwarden/integration/harness"
)

// shopManifest is an application in one namespace: every kind a namespace's
// deletion has to reach, in every service.
const shopManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx:1.25, resources: {requests: {cpu: 10m}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432, name: pg}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres:16
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: busybox}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: busybox, command: ["sleep", "3600"]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: nightly, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: easy}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: shop-quota}
spec:
  hard: {pods: "50", count/pods: "60"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: claim-limits}
spec:
  limits: [{type: PersistentVolumeClaim, max: {storage: 10Gi}}]
`

// shopCollections are the collections of namespace shop that must end empty.
var shopCollections = []string{
	"/apis/apps/v1/namespaces/shop/deployments", "/apis/apps/v1/namespaces/shop/replicasets",
	"/apis/apps/v1/namespaces/shop/statefulsets", "/apis/apps/v1/namespaces/shop/daemonsets",
	"/apis/batch/v1/namespaces/shop/jobs", "/apis/batch/v1/namespaces/shop/cronjobs",
	"/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers",
	"/api/v1/namespaces/shop/pods", "/api/v1/namespaces/shop/services", "/api/v1/namespaces/shop/endpoints",
	"/api/v1/namespaces/shop/persistentvolumeclaims", "/api/v1/namespaces/shop/configmaps",
	"/api/v1/namespaces/shop/secrets", "/api/v1/namespaces/shop/serviceaccounts",
	"/api/v1/namespaces/shop/resourcequotas", "/api/v1/namespaces/shop/limitranges",
}

// kubectlFails runs kubectl expecting it to fail, and returns its standard error.
func (k kubectl) fails(args ...string) string {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		k.t.Fatalf("kubectl %s succeeded:\n%s", strings.Join(args, " "), stdout.String())
	}
	return stderr.String()
}

// poll calls cond until it holds or the limit passes.
func poll(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, limit, state)
		}
		time.Sleep(200 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// TestNamespaceLifecycleWithKubectl: a namespace holding a Deployment (with an
// HPA), a StatefulSet with claims, a DaemonSet, a Job, a CronJob, a Service, a
// ConfigMap and a Secret is deleted as one with `kubectl delete namespace`: it
// turns Terminating, nothing new may be created in it (403) and a second delete
// is a conflict, and with a service down the namespace waits (its conditions say
// why), the core service killed meanwhile; once the service is back everything
// in it goes, then the namespace. Creating into a namespace that does not exist is 404.
func TestNamespaceLifecycleWithKubectl(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	k := newKubectl(t, bin, s.GatewayURL)

	out := k.within(30*time.Second, "get", "namespaces")
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if !strings.Contains(out, ns+" ") || !strings.Contains(out, "Active") {
			t.Fatalf("kubectl get namespaces lacks %s:\n%s", ns, out)
		}
	}
	if msg := k.fails("create", "configmap", "x", "-n", "nowhere", "--from-literal=a=b"); !strings.Contains(msg, `namespaces "nowhere" not found`) {
		t.Fatalf("create in a missing namespace: %s", msg)
	}
	if msg := k.fails("delete", "namespace", "default"); !strings.Contains(msg, `namespaces "default" is forbidden: this namespace may not be deleted`) {
		t.Fatalf("delete default: %s", msg)
	}

	k.within(30*time.Second, "create", "namespace", "shop")
	k.within(30*time.Second, "label", "namespace", "shop", "team=a")
	ns := a.mustGet("/api/v1/namespaces/shop")
	if labels := path(ns, "metadata", "labels").(map[string]any); labels["team"] != "a" || labels["kubernetes.io/metadata.name"] != "shop" ||
		path(ns, "status", "phase") != "Active" || path(ns, "spec", "finalizers").([]any)[0] != "kubernetes" {
		t.Fatalf("namespace %v", ns)
	}
	file := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(file, []byte(shopManifest), 0o600); err != nil {
		t.Fatal(err)
	}
	k.within(60*time.Second, "apply", "-n", "shop", "-f", file)
	count := func(p string) int {
		r := a.get(p)
		if r.Code != http.StatusOK {
			return -1
		}
		items, _ := r.JSON()["items"].([]any)
		return len(items)
	}
	poll(t, 60*time.Second, "the shop runs", func() (bool, string) {
		pods, pvcs := count("/api/v1/namespaces/shop/pods"), count("/api/v1/namespaces/shop/persistentvolumeclaims")
		sa := a.get("/api/v1/namespaces/shop/serviceaccounts/default").Code
		// 2 web + 2 db + 2 agents (worker nodes) + 1 job pod
		return pods >= 7 && pvcs == 2 && sa == http.StatusOK, "pods " + itoa(pods) + ", claims " + itoa(pvcs) + ", default sa " + itoa(sa)
	})

	// With the node service down the pods cannot be listed: the namespace waits.
	s.Kill("node")
	k.within(30*time.Second, "delete", "namespace", "shop", "--wait=false")
	poll(t, 30*time.Second, "the failure shows in the conditions", func() (bool, string) {
		ns := a.mustGet("/api/v1/namespaces/shop")
		for _, c := range asList(path(ns, "status", "conditions")) {
			if path(c, "type") == "NamespaceDeletionContentFailure" && path(c, "status") == "True" {
				return strings.Contains(path(c, "message").(string), "pods."), ""
			}
		}
		return false, string(a.get("/api/v1/namespaces/shop").Body)
	})
	if out := k.within(30*time.Second, "get", "namespace", "shop"); !strings.Contains(out, "Terminating") {
		t.Fatalf("kubectl get namespace shop:\n%s", out)
	}
	st := a.expect(a.do(http.MethodDelete, "/api/v1/namespaces/shop", "", nil), http.StatusConflict, "second delete")
	if st["message"] != `Operation cannot be fulfilled on namespaces "shop": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.` {
		t.Fatalf("second delete: %v", st["message"])
	}
	if msg := k.fails("create", "configmap", "late", "-n", "shop", "--from-literal=a=b"); !strings.Contains(msg,
		`configmaps "late" is forbidden: unable to create new content in namespace shop because it is being terminated`) {
		t.Fatalf("create in a terminating namespace: %s", msg)
	}
	// The core service dies meanwhile: its successor finishes the job (the
	// Terminating namespace is all it needs).
	s.Kill("core")
	if _, err := s.StartService("core", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartService("node", 0); err != nil {
		t.Fatal(err)
	}
	// `kubectl delete namespace` waits until the namespace is gone.
	k.within(90*time.Second, "wait", "--for=delete", "namespace/shop", "--timeout=80s")
	for _, p := range shopCollections {
		if n := count(p); n != 0 {
			t.Errorf("%s: %d left after the namespace went: %s", p, n, a.get(p).Body)
		}
	}
	a.expect(a.get("/api/v1/namespaces/shop"), http.StatusNotFound, "deleted namespace")
	if msg := k.fails("create", "configmap", "again", "-n", "shop", "--from-literal=a=b"); !strings.Contains(msg, `namespaces "shop" not found`) {
		t.Fatalf("create in the deleted namespace: %s", msg)
	}

	// A namespace made again is a new one; deleting it with kubectl waits for it.
	k.within(30*time.Second, "create", "namespace", "shop")
	k.within(30*time.Second, "create", "configmap", "x", "-n", "shop", "--from-literal=a=b")
	k.within(60*time.Second, "delete", "namespace", "shop")
	a.expect(a.get("/api/v1/namespaces/shop"), http.StatusNotFound, "deleted again")
	if msg := k.fails("delete", "namespace", "shop"); !strings.Contains(msg, `namespaces "shop" not found`) {
		t.Fatalf("delete a deleted namespace: %s", msg)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestNamespacePerTestWithClientGo is what test frameworks (Kubernetes' e2e
// framework, envtest users) do with a typed clientset (JSON): create a namespace,
// wait for its default ServiceAccount and its kube-root-ca.crt, run a pod there (one
// naming a ServiceAccount that does not exist is refused), and delete the
// namespace at the end, waiting until it is gone.
func TestNamespacePerTestWithClientGo(t *testing.T) {
	s := startSystem(t, harness.Options{})
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	ns, err := cs.CoreV1().Namespaces().Create(ctx, &k8scorev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name := ns.Name
	if !strings.HasPrefix(name, "e2e-") || ns.Status.Phase != k8scorev1.NamespaceActive || len(ns.Spec.Finalizers) != 1 || ns.Spec.Finalizers[0] != k8scorev1.FinalizerKubernetes {
		t.Fatalf("created %+v", ns)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &k8scorev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v", err)
	}
	// The e2e framework's WaitForDefaultServiceAccountInNamespace: a watch on the name.
	w, err := cs.CoreV1().ServiceAccounts(name).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=default"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != "ADDED" {
			t.Fatalf("event %v", ev.Type)
		}
	case <-ctx.Done():
		t.Fatal("no default ServiceAccount")
	}
	w.Stop()
	poll(t, 30*time.Second, "kube-root-ca.crt", func() (bool, string) {
		cm, err := cs.CoreV1().ConfigMaps(name).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return strings.HasPrefix(cm.Data["ca.crt"], "-----BEGIN CERTIFICATE-----"), fmt.Sprint(cm.Data)
	})

	pod := &k8scorev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client"},
		Spec: k8scorev1.PodSpec{Containers: []k8scorev1.Container{{Name: "c", Image: "busybox"}}}}
	made, err := cs.CoreV1().Pods(name).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if made.Spec.ServiceAccountName != "default" || made.Spec.DeprecatedServiceAccount != "default" {
		t.Fatalf("serviceAccountName %q / serviceAccount %q", made.Spec.ServiceAccountName, made.Spec.DeprecatedServiceAccount)
	}
	pod.Name, pod.Spec.ServiceAccountName = "robot", "robot"
	_, err = cs.CoreV1().Pods(name).Create(ctx, pod, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != fmt.Sprintf(`pods "robot" is forbidden: error looking up service account %s/robot: serviceaccount "robot" not found`, name) {
		t.Fatalf("pod with a missing ServiceAccount: %v", err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(name).Create(ctx, &k8scorev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(name).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("pod with its ServiceAccount: %v", err)
	}

	// deletecollection (client-go's DeleteCollection) with a label selector.
	for _, cm := range []string{"cache-a", "cache-b", "keep"} {
		labels := map[string]string{"tier": "cache"}
		if cm == "keep" {
			labels = nil
		}
		if _, err := cs.CoreV1().ConfigMaps(name).Create(ctx, &k8scorev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cm, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cs.CoreV1().ConfigMaps(name).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "tier=cache"}); err != nil {
		t.Fatal(err)
	}
	cms, err := cs.CoreV1().ConfigMaps(name).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, cm := range cms.Items {
		left = append(left, cm.Name)
	}
	if strings.Join(left, ",") != "keep,kube-root-ca.crt" {
		t.Fatalf("configmaps after deletecollection: %v", left)
	}
	bg := metav1.DeletePropagationBackground
	if err := cs.CoreV1().Pods(name).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{FieldSelector: "metadata.name=robot"}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "pod robot deleted", func() (bool, string) {
		_, err := cs.CoreV1().Pods(name).Get(ctx, "robot", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if _, err := cs.CoreV1().Pods(name).Get(ctx, "client", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod client, not selected, went too: %v", err)
	}

	// Clean up: delete, then wait until the namespace is gone.
	if err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "namespace gone", func() (bool, string) {
		got, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("%v %+v", err, got.Status)
	})
	if pods, err := cs.CoreV1().Pods(name).List(ctx, metav1.ListOptions{}); err != nil || len(pods.Items) != 0 {
		t.Fatalf("pods left: %v %v", err, pods)
	}
}
