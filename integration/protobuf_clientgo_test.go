package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	k8scorev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podwarden/podwarden/integration/harness"
)

// typedClient is what every typed client of client-go has.
type typedClient[T interface{ metav1.Object }, L any] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// exercise creates obj through c while watching, then gets and lists it; every
// request and answer is in Kubernetes' protobuf encoding.
func exercise[T interface{ metav1.Object }, L any](t *testing.T, kind string, c typedClient[T, L], obj T, items func(L) int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := c.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("%s: watch: %v", kind, err)
	}
	defer w.Stop()
	created, err := c.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: create: %v", kind, err)
	}
	name := created.GetName()
	if created.GetUID() == "" || created.GetResourceVersion() == "" {
		t.Fatalf("%s: created %s without uid or resourceVersion", kind, name)
	}
	got, err := c.Get(ctx, name, metav1.GetOptions{})
	if err != nil || got.GetUID() != created.GetUID() {
		t.Fatalf("%s: get %s: %v", kind, name, err)
	}
	list, err := c.List(ctx, metav1.ListOptions{})
	if err != nil || items(list) == 0 {
		t.Fatalf("%s: list: %d items, %v", kind, items(list), err)
	}
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("%s: watch closed before %s was seen", kind, name)
			}
			if ev.Type == watch.Error {
				t.Fatalf("%s: watch error %v", kind, ev.Object)
			}
			if m, ok := ev.Object.(metav1.Object); ok && ev.Type == watch.Added && m.GetName() == name {
				return
			}
		case <-ctx.Done():
			t.Fatalf("%s: no ADDED event for %s", kind, name)
		}
	}
}

// TestProtobufClientGo: a client-go clientset configured for Kubernetes' protobuf
// (as controllers are) creates, gets, lists and watches every kind; the gateway
// answers in protobuf too.
func TestProtobufClientGo(t *testing.T) {
	s := startSystem(t, harness.Options{})
	cfg := &rest.Config{Host: s.GatewayURL, ContentConfig: rest.ContentConfig{ContentType: "application/vnd.kubernetes.protobuf"}}
	cs := kubernetes.NewForConfigOrDie(cfg)
	const ns = "default"
	labels := map[string]string{"app": "pb"}
	selector := &metav1.LabelSelector{MatchLabels: labels}
	template := k8scorev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       k8scorev1.PodSpec{Containers: []k8scorev1.Container{{Name: "c", Image: "nginx"}}},
	}
	job := template.DeepCopy()
	job.Spec.RestartPolicy = k8scorev1.RestartPolicyNever
	job.Labels = nil
	one := int32(1)
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
	holder := "me"

	exercise(t, "Deployment", cs.AppsV1().Deployments(ns), &appsv1.Deployment{ObjectMeta: meta("pb-deploy"),
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: selector, Template: template}}, func(l *appsv1.DeploymentList) int { return len(l.Items) })
	exercise(t, "ReplicaSet", cs.AppsV1().ReplicaSets(ns), &appsv1.ReplicaSet{ObjectMeta: meta("pb-rs"),
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pb-rs"}},
			Template: k8scorev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "pb-rs"}}, Spec: template.Spec}}},
		func(l *appsv1.ReplicaSetList) int { return len(l.Items) })
	exercise(t, "ReplicationController", cs.CoreV1().ReplicationControllers(ns), &k8scorev1.ReplicationController{ObjectMeta: meta("pb-rc"),
		Spec: k8scorev1.ReplicationControllerSpec{Replicas: &one, Selector: map[string]string{"app": "pb-rc"},
			Template: &k8scorev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "pb-rc"}}, Spec: template.Spec}}},
		func(l *k8scorev1.ReplicationControllerList) int { return len(l.Items) })
	exercise(t, "StatefulSet", cs.AppsV1().StatefulSets(ns), &appsv1.StatefulSet{ObjectMeta: meta("pb-sts"),
		Spec: appsv1.StatefulSetSpec{ServiceName: "pb", Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pb-sts"}},
			Template: k8scorev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "pb-sts"}}, Spec: template.Spec}}},
		func(l *appsv1.StatefulSetList) int { return len(l.Items) })
	exercise(t, "DaemonSet", cs.AppsV1().DaemonSets(ns), &appsv1.DaemonSet{ObjectMeta: meta("pb-ds"),
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pb-ds"}},
			Template: k8scorev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "pb-ds"}}, Spec: template.Spec}}},
		func(l *appsv1.DaemonSetList) int { return len(l.Items) })
	exercise(t, "Job", cs.BatchV1().Jobs(ns), &batchv1.Job{ObjectMeta: meta("pb-job"), Spec: batchv1.JobSpec{Template: *job}},
		func(l *batchv1.JobList) int { return len(l.Items) })
	exercise(t, "CronJob", cs.BatchV1().CronJobs(ns), &batchv1.CronJob{ObjectMeta: meta("pb-cron"),
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: *job}}}},
		func(l *batchv1.CronJobList) int { return len(l.Items) })
	exercise(t, "HorizontalPodAutoscaler v2", cs.AutoscalingV2().HorizontalPodAutoscalers(ns), &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("pb-hpa"),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 3,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "pb-deploy"}}},
		func(l *autoscalingv2.HorizontalPodAutoscalerList) int { return len(l.Items) })
	// autoscaling/v1 HPAs are served without watch (as discovery says).
	hpa1 := cs.AutoscalingV1().HorizontalPodAutoscalers(ns)
	if _, err := hpa1.Create(context.Background(), &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: meta("pb-hpa1"),
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{MaxReplicas: 3,
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "pb-deploy"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("HorizontalPodAutoscaler v1: create: %v", err)
	}
	if l, err := hpa1.List(context.Background(), metav1.ListOptions{}); err != nil || len(l.Items) != 2 || l.Items[1].Spec.MaxReplicas != 3 {
		t.Fatalf("HorizontalPodAutoscaler v1: list: %v", err)
	}
	exercise(t, "Pod", cs.CoreV1().Pods(ns), &k8scorev1.Pod{ObjectMeta: meta("pb-pod"), Spec: template.Spec},
		func(l *k8scorev1.PodList) int { return len(l.Items) })
	exercise(t, "Node", cs.CoreV1().Nodes(), &k8scorev1.Node{ObjectMeta: meta("pb-node")},
		func(l *k8scorev1.NodeList) int { return len(l.Items) })
	exercise(t, "Service", cs.CoreV1().Services(ns), &k8scorev1.Service{ObjectMeta: meta("pb-svc"),
		Spec: k8scorev1.ServiceSpec{Selector: labels, Ports: []k8scorev1.ServicePort{{Port: 80}}}},
		func(l *k8scorev1.ServiceList) int { return len(l.Items) })
	exercise(t, "Endpoints", cs.CoreV1().Endpoints(ns), &k8scorev1.Endpoints{ObjectMeta: meta("pb-ep")},
		func(l *k8scorev1.EndpointsList) int { return len(l.Items) })
	exercise(t, "ConfigMap", cs.CoreV1().ConfigMaps(ns), &k8scorev1.ConfigMap{ObjectMeta: meta("pb-cm"), Data: map[string]string{"a": "b"}},
		func(l *k8scorev1.ConfigMapList) int { return len(l.Items) })
	exercise(t, "Secret", cs.CoreV1().Secrets(ns), &k8scorev1.Secret{ObjectMeta: meta("pb-secret"), Data: map[string][]byte{"a": []byte("b")}},
		func(l *k8scorev1.SecretList) int { return len(l.Items) })
	exercise(t, "ServiceAccount", cs.CoreV1().ServiceAccounts(ns), &k8scorev1.ServiceAccount{ObjectMeta: meta("pb-sa")},
		func(l *k8scorev1.ServiceAccountList) int { return len(l.Items) })
	exercise(t, "Lease", cs.CoordinationV1().Leases(ns), &coordinationv1.Lease{ObjectMeta: meta("pb-lease"), Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}},
		func(l *coordinationv1.LeaseList) int { return len(l.Items) })
	exercise(t, "Event", cs.CoreV1().Events(ns), &k8scorev1.Event{ObjectMeta: meta("pb-event"), Reason: "Tested", Message: "by protobuf",
		InvolvedObject: k8scorev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "pb-pod"}},
		func(l *k8scorev1.EventList) int { return len(l.Items) })
	exercise(t, "PersistentVolumeClaim", cs.CoreV1().PersistentVolumeClaims(ns), &k8scorev1.PersistentVolumeClaim{ObjectMeta: meta("pb-pvc"),
		Spec: k8scorev1.PersistentVolumeClaimSpec{AccessModes: []k8scorev1.PersistentVolumeAccessMode{k8scorev1.ReadWriteOnce},
			Resources: k8scorev1.VolumeResourceRequirements{Requests: k8scorev1.ResourceList{k8scorev1.ResourceStorage: resource.MustParse("1Gi")}}}},
		func(l *k8scorev1.PersistentVolumeClaimList) int { return len(l.Items) })
	exercise(t, "PersistentVolume", cs.CoreV1().PersistentVolumes(), &k8scorev1.PersistentVolume{ObjectMeta: meta("pb-pv"),
		Spec: k8scorev1.PersistentVolumeSpec{AccessModes: []k8scorev1.PersistentVolumeAccessMode{k8scorev1.ReadWriteOnce},
			Capacity:               k8scorev1.ResourceList{k8scorev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: k8scorev1.PersistentVolumeSource{HostPath: &k8scorev1.HostPathVolumeSource{Path: "/tmp/pv"}}}},
		func(l *k8scorev1.PersistentVolumeList) int { return len(l.Items) })
	// Namespaces are the gateway's own (create, get, list; no watch yet).
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &k8scorev1.Namespace{ObjectMeta: meta("pb-ns")}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("Namespace: create: %v", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "pb-ns", metav1.GetOptions{}); err != nil {
		t.Fatalf("Namespace: get: %v", err)
	}

	// ControllerRevisions are made by the StatefulSet and DaemonSet controllers.
	revs, err := cs.AppsV1().ControllerRevisions(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(revs.Items) == 0 {
		t.Fatalf("ControllerRevisions: %d, %v", len(revs.Items), err)
	}
	if _, err := cs.AppsV1().ControllerRevisions(ns).Get(ctx, revs.Items[0].Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("ControllerRevision get: %v", err)
	}
	// The answers were protobuf, lists and watches alike.
	for _, path := range []string{"/apis/apps/v1/namespaces/default/deployments/pb-deploy", "/api/v1/pods", "/api/v1/nodes?watch=true&timeoutSeconds=1"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.GatewayURL+path, nil)
		req.Header.Set("Accept", "application/vnd.kubernetes.protobuf, */*")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		ct := resp.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "application/vnd.kubernetes.protobuf") || !bytes.Contains(body, []byte("k8s\x00")) {
			t.Fatalf("GET %s answered %q: %.80q", path, ct, body)
		}
	}
	// Errors come back as a Status in protobuf, with their reason.
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "missing", metav1.GetOptions{}); err == nil || err.Error() != `deployments.apps "missing" not found` {
		t.Fatalf("get of a missing Deployment: %v", err)
	}
}
