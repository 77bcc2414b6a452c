package integration

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/testenv"
)

// TestReplicaSetAdoptsANewOrphanAtOnce: a bare pod created after its ReplicaSet, with
// labels the ReplicaSet selects, wakes it (as Kubernetes' addPod does for orphans): it
// adopts the pod and, one pod too many, deletes one, long before a resync would.
func TestReplicaSetAdoptsANewOrphanAtOnce(t *testing.T) {
	s := startSystem(t, harness.Options{Env: []string{"PODWARDEN_RESYNC=10m"}})
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})
	ctx := context.Background()
	one := int32(1)
	lbl := map[string]string{"app": "adopt"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
	rs, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "adopt"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: lbl}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live := func() (owned, orphans int) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=adopt"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == rs.UID {
				owned++
			} else {
				orphans++
			}
		}
		return owned, orphans
	}
	testenv.Eventually(t, 30*time.Second, "the ReplicaSet settled", func() bool {
		cur, err := cs.AppsV1().ReplicaSets("default").Get(ctx, "adopt", metav1.GetOptions{})
		owned, _ := live()
		return err == nil && owned == 1 && cur.Status.AvailableReplicas == 1 && cur.Status.ObservedGeneration == cur.Generation
	})
	if _, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare", Labels: lbl}, Spec: tmpl.Spec},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the orphan adopted and the extra pod deleted", func() bool {
		owned, orphans := live()
		return owned == 1 && orphans == 0
	})
}
