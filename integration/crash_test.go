package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/podwarden/podwarden/integration/harness"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// exactlyConverged waits until the Deployment is rolled out and the node service runs
// exactly want pods of it, all with image, none terminating, none unknown to its owner.
func exactlyConverged(t *testing.T, a api, name, selector, image string, want int) {
	t.Helper()
	rolloutDone(t, a, name)
	rolledOut(t, a, name, want)
	eventually(t, 30*time.Second, "exactly the desired pods", func() (bool, string) {
		pods := podsOf(t, a, selector)
		names := map[string]bool{}
		for _, p := range pods {
			n := str(path(p, "metadata", "name"))
			if names[n] || path(p, "metadata", "deletionTimestamp") != nil || podImages([]map[string]any{p})[0] != image ||
				str(path(p, "status", "phase")) != "Running" {
				return false, fmt.Sprintf("pod %s: %v %v", n, path(p, "status", "phase"), podImages([]map[string]any{p}))
			}
			names[n] = true
		}
		total := 0
		for _, rs := range replicaSetsOf(t, a, selector) {
			total += num(path(rs, "status", "replicas"))
		}
		return len(pods) == want && total == want, fmt.Sprintf("%d pods, replica sets count %d", len(pods), total)
	})
}

// crashDuringRollout kills -9 a service in the middle of a rolling update and
// restarts it; the rollout must complete with exactly the right pods.
func crashDuringRollout(t *testing.T, victim string) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", readManifest(t, "deployment-rolling.yaml")), http.StatusCreated, "create")
	rolledOut(t, a, "nginx", 5)
	a.expect(a.mergePatch(deploymentsPath+"/nginx", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}}`), http.StatusOK, "set image")
	eventually(t, 30*time.Second, "rollout under way", func() (bool, string) {
		n := 0
		for _, img := range podImages(podsOf(t, a, "app=nginx")) {
			if img == "nginx:1.25" {
				n++
			}
		}
		return n >= 1, fmt.Sprint(n)
	})
	s.Kill(victim)
	restarted := time.Now()
	if _, err := s.StartService(victim, 0); err != nil {
		t.Fatal(err)
	}
	exactlyConverged(t, a, "nginx", "app=nginx", "nginx:1.25", 5)
	took := time.Since(restarted)
	t.Logf("converged %v after the restart of %s", took, victim)
	if took > 15*time.Second {
		t.Logf("slow convergence; service logs:\n%s", s.Logs(20000))
	}
}

func TestKillDeploymentServiceMidRollout(t *testing.T) { crashDuringRollout(t, "deployment") }

func TestKillNodeServiceMidRollout(t *testing.T) { crashDuringRollout(t, "node") }

// TestLeaderHandOver runs two deployment replicas; killing the leader hands the
// controllers to the other within the lease TTL, and both serve the API.
func TestLeaderHandOver(t *testing.T) {
	s := startSystem(t, harness.Options{Replicas: 2})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.do(http.MethodPost, deploymentsPath, "application/yaml", readManifest(t, "deployment-nginx.yaml")), http.StatusCreated, "create")
	rolledOut(t, a, "nginx-deployment", 1)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var holder string
	if err := conn.QueryRow(ctx, "SELECT holder FROM deployment.leases WHERE name='deployment-controllers'").Scan(&holder); err != nil {
		t.Fatal(err)
	}
	var leader, follower *harness.Proc
	for _, p := range s.Procs("deployment") {
		if p.Name == holder {
			leader = p
		} else {
			follower = p
		}
	}
	if leader == nil || follower == nil {
		t.Fatalf("lease held by %q, replicas %v", holder, s.Procs("deployment"))
	}
	s.KillProc(leader)
	killed := time.Now()

	fc, err := grpc.NewClient(follower.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	client := deploymentv1.NewDeploymentServiceClient(fc)
	scale, err := client.GetDeploymentScale(ctx, &deploymentv1.GetDeploymentScaleRequest{Namespace: "default", Name: "nginx-deployment"})
	if err != nil {
		t.Fatal(err)
	}
	scale.Scale.Spec.Replicas = 3
	if _, err := client.UpdateDeploymentScale(ctx, &deploymentv1.UpdateDeploymentScaleRequest{Namespace: "default", Name: "nginx-deployment", Scale: scale.Scale}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "follower reconciles", func() (bool, string) {
		r, err := client.GetDeployment(ctx, &deploymentv1.GetDeploymentRequest{Namespace: "default", Name: "nginx-deployment"})
		if err != nil {
			return false, err.Error()
		}
		return r.Deployment.GetStatus().GetReadyReplicas() == 3, fmt.Sprint(r.Deployment.GetStatus())
	})
	t.Logf("hand-over and scale to 3 ready took %v after the leader was killed", time.Since(killed))
	if err := conn.QueryRow(ctx, "SELECT holder FROM deployment.leases WHERE name='deployment-controllers'").Scan(&holder); err != nil {
		t.Fatal(err)
	}
	if holder != follower.Name {
		t.Fatalf("lease held by %q, want %q", holder, follower.Name)
	}
}
