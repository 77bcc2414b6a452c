package integration

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/podwarden/podwarden/integration/harness"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
	"github.com/podwarden/podwarden/shared/grpcserver"
	"github.com/podwarden/podwarden/shared/pki"
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

	workloadsRun(t, a)
}

// workloadsRun creates a Deployment and a DaemonSet through the gateway and
// waits for their pods: the gateway reached the deployment and daemonset
// services, and the daemonset service the node service.
func workloadsRun(t *testing.T, a api) {
	t.Helper()
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

// TestGRPCMutualTLS runs every service with TLS and client certificates of a
// local CA (what make run -secure does): a client without a certificate is
// refused, plaintext does not connect, and the gateway and the services
// calling each other present theirs.
func TestGRPCMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("integration-ca")
	if err != nil {
		t.Fatal(err)
	}
	sec := grpcserver.Security{
		CertFile: filepath.Join(dir, "services.crt"), KeyFile: filepath.Join(dir, "services.key"),
		CAFile: filepath.Join(dir, "ca.crt"),
	}
	if err := ca.Write(sec.CAFile, filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue(pki.LocalServer("services"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pair.Write(sec.CertFile, sec.KeyFile); err != nil {
		t.Fatal(err)
	}
	env := []string{grpcserver.EnvCertFile + "=" + sec.CertFile, grpcserver.EnvKeyFile + "=" + sec.KeyFile, grpcserver.EnvCAFile + "=" + sec.CAFile}
	s := startSystem(t, harness.Options{Env: env, GatewayEnv: env, GRPC: sec})
	a := api{t: t, base: s.GatewayURL}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := nodev1.NewNodeServiceClient(s.Conn("node")).ListNodes(ctx, &nodev1.ListNodesRequest{}); err != nil {
		t.Fatalf("ListNodes with the client certificate: %v", err)
	}
	for name, tc := range map[string]struct {
		sec  grpcserver.Security
		want codes.Code
	}{
		"TLS without a certificate": {sec: grpcserver.Security{CAFile: sec.CAFile}, want: codes.Unauthenticated},
		"plaintext":                 {sec: grpcserver.Security{}, want: codes.Unavailable},
	} {
		opts, err := tc.sec.DialOptions()
		if err != nil {
			t.Fatal(err)
		}
		conn, err := grpc.NewClient(s.Addrs["node"], opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = nodev1.NewNodeServiceClient(conn).ListNodes(ctx, &nodev1.ListNodesRequest{})
		_ = conn.Close()
		if status.Code(err) != tc.want {
			t.Errorf("%s: ListNodes %v, want %s", name, err, tc.want)
		}
	}
	workloadsRun(t, a)
}
