package integration

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestClientGoCreatesNode: client-go's typed Node create (which always sends
// status.daemonEndpoints, an empty struct) is accepted, and the node registers like a
// kubelet's, with the kubelet's port.
func TestClientGoCreatesNode(t *testing.T) {
	s := startSystem(t, harness.Options{})
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL})
	ctx := context.Background()
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node: %v", err)
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, "worker-x", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := n.Status.DaemonEndpoints.KubeletEndpoint.Port; p != 10250 {
		t.Errorf("kubelet port %d, want 10250", p)
	}
	if n.Spec.PodCIDR == "" || len(n.Status.Addresses) == 0 {
		t.Errorf("node not registered: podCIDR %q, addresses %v", n.Spec.PodCIDR, n.Status.Addresses)
	}
}
