package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/podwarden/podwarden/integration/harness"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
	"github.com/podwarden/podwarden/shared/grpcserver"
)

// TestGRPCSharedToken runs every service with a shared gRPC token: a call
// without it is refused (Unauthenticated), health stays open, and the gateway
// and the services calling each other (daemonset -> node) send it, so a
// Deployment and a DaemonSet still get their pods.
func TestGRPCSharedToken(t *testing.T) {
	const token = "integration-token"
	tokenEnv := grpcserver.EnvToken + "=" + token
	s := startSystem(t, harness.Options{Env: []string{tokenEnv}, GatewayEnv: []string{tokenEnv}})
	a := api{t: t, base: s.GatewayURL}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	nodes := nodev1.NewNodeServiceClient(s.Conn("node"))
	if _, err := nodes.ListNodes(ctx, &nodev1.ListNodesRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("ListNodes without the token: %v, want Unauthenticated", err)
	}
	opts, err := grpcserver.Security{Token: token}.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(s.Addrs["node"], opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := nodev1.NewNodeServiceClient(conn).ListNodes(ctx, &nodev1.ListNodesRequest{}); err != nil {
		t.Fatalf("ListNodes with the token: %v", err)
	}

	a.expect(a.postJSON("/apis/apps/v1/namespaces/default/deployments", rawJSON(`{"apiVersion":"apps/v1","kind":"Deployment",
"metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`)), http.StatusCreated, "create deployment")
	a.expect(a.do(http.MethodPost, daemonSetsPath, "application/json",
		[]byte(dsJSON("agent", "agent:1", "", ""))), http.StatusCreated, "create daemonset")
	eventually(t, 60*time.Second, "deployment ready", func() (bool, string) {
		d := a.mustGet("/apis/apps/v1/namespaces/default/deployments/web")
		return num(path(d, "status", "readyReplicas")) == 2, fmt.Sprint(path(d, "status"))
	})
	// The control-plane node is tainted: the DaemonSet runs on the 2 workers,
	// which it learned from the node service over gRPC, with the token.
	dsOnExactly(t, a, "agent", "app=agent", "node-1", "node-2")
}
