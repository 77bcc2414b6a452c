package integration

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/integration/harness"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func nginxDeployment(ns, name string, replicas int32) *deploymentv1.Deployment {
	labels := map[string]string{"app": name}
	return &deploymentv1.Deployment{
		Metadata: &corev1.ObjectMeta{Name: name, Namespace: ns},
		Spec: &deploymentv1.DeploymentSpec{
			Replicas: proto.Int32(replicas),
			Selector: &corev1.LabelSelector{MatchLabels: labels},
			Template: &corev1.PodTemplateSpec{
				Metadata: &corev1.ObjectMeta{Labels: labels},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1.23"}}},
			},
		},
	}
}

type clients struct {
	d    deploymentv1.DeploymentServiceClient
	rs   deploymentv1.ReplicaSetServiceClient
	pods nodev1.PodServiceClient
}

func grpcClients(s *harness.System) clients {
	return clients{
		d:    deploymentv1.NewDeploymentServiceClient(s.Conn("deployment")),
		rs:   deploymentv1.NewReplicaSetServiceClient(s.Conn("deployment")),
		pods: nodev1.NewPodServiceClient(s.Conn("node")),
	}
}

func (c clients) waitReady(t *testing.T, ns, name string, want int32) *deploymentv1.Deployment {
	t.Helper()
	var d *deploymentv1.Deployment
	eventually(t, 60*time.Second, fmt.Sprintf("%s/%s ready %d", ns, name, want), func() (bool, string) {
		r, err := c.d.GetDeployment(context.Background(), &deploymentv1.GetDeploymentRequest{Namespace: ns, Name: name})
		if err != nil {
			return false, err.Error()
		}
		d = r.Deployment
		st := d.GetStatus()
		return st.GetObservedGeneration() == d.Metadata.Generation && st.GetReadyReplicas() == want &&
			st.GetUpdatedReplicas() == want && st.GetReplicas() == want, fmt.Sprint(st)
	})
	return d
}

func (c clients) podCount(t *testing.T, ns, selector string) int {
	t.Helper()
	r, err := c.pods.ListPods(context.Background(), &nodev1.ListPodsRequest{Namespace: ns, LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return len(r.Items)
}

// TestDeploymentOverGRPC drives the same story through the gRPC API (what grpcurl does).
func TestDeploymentOverGRPC(t *testing.T) {
	s := startSystem(t, harness.Options{})
	c := grpcClients(s)
	ctx := context.Background()

	if _, err := c.d.CreateDeployment(ctx, &deploymentv1.CreateDeploymentRequest{Namespace: "default", Deployment: nginxDeployment("", "web", 2)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.d.CreateDeployment(ctx, &deploymentv1.CreateDeploymentRequest{Namespace: "default", Deployment: nginxDeployment("", "web", 2)})
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("duplicate create: %v", err)
	}
	bad := nginxDeployment("", "bad", -1)
	if _, err := c.d.CreateDeployment(ctx, &deploymentv1.CreateDeploymentRequest{Namespace: "default", Deployment: bad}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "spec.replicas: Invalid value: -1: must be greater than or equal to 0") {
		t.Fatalf("invalid create: %v", err)
	}
	c.waitReady(t, "default", "web", 2)

	// Same name in another namespace: separate objects, separate pods.
	if _, err := c.d.CreateDeployment(ctx, &deploymentv1.CreateDeploymentRequest{Namespace: "team-b", Deployment: nginxDeployment("team-b", "web", 1)}); err != nil {
		t.Fatal(err)
	}
	c.waitReady(t, "team-b", "web", 1)
	if n := c.podCount(t, "default", "app=web"); n != 2 {
		t.Fatalf("default has %d web pods", n)
	}
	if n := c.podCount(t, "team-b", "app=web"); n != 1 {
		t.Fatalf("team-b has %d web pods", n)
	}
	list, err := c.d.ListDeployments(ctx, &deploymentv1.ListDeploymentsRequest{Namespace: "team-b"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Metadata.Namespace != "team-b" {
		t.Fatalf("namespaced list: %v %v", list, err)
	}

	// Rollout status streamed until done.
	g, err := c.d.GetDeployment(ctx, &deploymentv1.GetDeploymentRequest{Namespace: "default", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	d := g.Deployment
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.25"
	if _, err := c.d.UpdateDeployment(ctx, &deploymentv1.UpdateDeploymentRequest{Namespace: "default", Name: "web", Deployment: d}); err != nil {
		t.Fatal(err)
	}
	stream, err := c.d.WatchRolloutStatus(ctx, &deploymentv1.WatchRolloutStatusRequest{Namespace: "default", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m.Message)
		if m.Done {
			break
		}
	}
	if last := lines[len(lines)-1]; last != "deployment \"web\" successfully rolled out\n" {
		t.Fatalf("last rollout status line %q (all: %q)", last, lines)
	}

	// Kubernetes reports "done" before the old pods have finished terminating.
	eventually(t, 30*time.Second, "old pods gone", func() (bool, string) {
		n := c.podCount(t, "default", "app=web")
		return n == 2, fmt.Sprint(n)
	})

	// Orphan: the ReplicaSets and their pods stay, no longer owned.
	if _, err := c.d.DeleteDeployment(ctx, &deploymentv1.DeleteDeploymentRequest{Namespace: "default", Name: "web", PropagationPolicy: "Orphan"}); err != nil {
		t.Fatal(err)
	}
	rsList, err := c.rs.ListReplicaSets(ctx, &deploymentv1.ListReplicaSetsRequest{Namespace: "default", LabelSelector: "app=web"})
	if err != nil || len(rsList.Items) == 0 {
		t.Fatalf("orphaned replica sets: %v %v", rsList, err)
	}
	for _, rs := range rsList.Items {
		if len(rs.Metadata.OwnerReferences) != 0 {
			t.Fatalf("replica set %s still owned: %v", rs.Metadata.Name, rs.Metadata.OwnerReferences)
		}
	}
	// Nothing is garbage collected: the pods keep running.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n := c.podCount(t, "default", "app=web"); n != 2 {
			t.Fatalf("orphaned pods went away: %d left", n)
		}
	}
	// Re-created, the Deployment adopts its orphans: no new pods.
	if _, err := c.d.CreateDeployment(ctx, &deploymentv1.CreateDeploymentRequest{Namespace: "default", Deployment: func() *deploymentv1.Deployment {
		d := nginxDeployment("", "web", 2)
		d.Spec.Template.Spec.Containers[0].Image = "nginx:1.25"
		return d
	}()}); err != nil {
		t.Fatal(err)
	}
	c.waitReady(t, "default", "web", 2)
	if n := c.podCount(t, "default", "app=web"); n != 2 {
		t.Fatalf("after adoption %d pods, want 2", n)
	}

	// Foreground: the Deployment stays (with a deletionTimestamp) until its pods are gone.
	if _, err := c.d.DeleteDeployment(ctx, &deploymentv1.DeleteDeploymentRequest{Namespace: "default", Name: "web", PropagationPolicy: "Foreground"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "foreground deletion completes", func() (bool, string) {
		r, err := c.d.GetDeployment(ctx, &deploymentv1.GetDeploymentRequest{Namespace: "default", Name: "web"})
		pods := c.podCount(t, "default", "app=web")
		if status.Code(err) == codes.NotFound {
			if pods != 0 {
				t.Fatalf("deployment gone before its %d pods", pods)
			}
			return true, ""
		}
		if err == nil && r.Deployment.Metadata.DeletionTimestamp == nil {
			t.Fatal("foreground deletion did not mark the deployment")
		}
		return false, fmt.Sprintf("%d pods", pods)
	})
}
