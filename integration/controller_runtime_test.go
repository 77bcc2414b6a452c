package integration

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/testenv"
)

// TestControllerRuntimeManager: a small controller-runtime manager, pointed at
// the gateway as at a cluster, elects itself leader through a Lease, runs a
// reconciler that scales Deployments to their `example.com/replicas`
// annotation, and records events.k8s.io events that kubectl shows.
func TestControllerRuntimeManager(t *testing.T) {
	bin := kubectlBin(t)
	s := startSystem(t, harness.Options{})
	k := newKubectl(t, bin, s.GatewayURL)
	cfg := &rest.Config{Host: s.GatewayURL}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme.Scheme,
		LeaderElection:          true,
		LeaderElectionID:        "scaler-lock",
		LeaderElectionNamespace: "default",
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	recorder := mgr.GetEventRecorder("example.com/scaler")
	c := mgr.GetClient()
	err = ctrl.NewControllerManagedBy(mgr).For(&appsv1.Deployment{}).Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		var d appsv1.Deployment
		if err := c.Get(ctx, req.NamespacedName, &d); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
		want, ok := d.Annotations["example.com/replicas"]
		if !ok || d.Spec.Replicas != nil && want == strconv.Itoa(int(*d.Spec.Replicas)) {
			return reconcile.Result{}, nil
		}
		n := replicasOf(want)
		patch := client.MergeFrom(d.DeepCopy())
		d.Spec.Replicas = &n
		if err := c.Patch(ctx, &d, patch); err != nil {
			return reconcile.Result{}, err
		}
		recorder.Eventf(&d, nil, "Normal", "Scaled", "Scale", "scaled to %d replicas", n)
		return reconcile.Result{}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the manager did not stop")
		}
	})

	select {
	case <-mgr.Elected():
	case err := <-done:
		t.Fatalf("manager stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("not elected within a minute")
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	lease, err := cs.CoordinationV1().Leases("default").Get(context.Background(), "scaler-lock", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Fatalf("leader Lease %v: %v", lease, err)
	}
	renewed := func() time.Time {
		l, err := cs.CoordinationV1().Leases("default").Get(context.Background(), "scaler-lock", metav1.GetOptions{})
		if err != nil || l.Spec.RenewTime == nil {
			return time.Time{}
		}
		return l.Spec.RenewTime.Time
	}
	first := lease.Spec.RenewTime.Time
	testenv.Eventually(t, 30*time.Second, "the leader renews its Lease", func() bool { return renewed().After(first) })

	k.run("create", "deployment", "web", "--image=nginx")
	k.run("annotate", "deployment", "web", "example.com/replicas=3")
	testenv.Eventually(t, 60*time.Second, "the reconciler scales web to 3, and 3 pods are ready", func() bool {
		return k.run("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}/{.status.readyReplicas}") == "3/3"
	})
	testenv.Eventually(t, 30*time.Second, "its event, in kubectl", func() bool {
		return strings.Contains(k.run("events", "--for", "deployment/web"), "scaled to 3 replicas")
	})
	wantLines(t, k.run("get", "events.events.k8s.io", "--field-selector=reason=Scaled", "-o", "jsonpath={.items[0].reportingController}"), "example.com/scaler")
}

// replicasOf reads the annotation's replica count.
func replicasOf(s string) int32 {
	n, _ := strconv.Atoi(s)
	return int32(n)
}
