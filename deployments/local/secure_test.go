package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/podwarden/podwarden/gateway"
)

// TestSetupSecure: -secure writes a CA, certificates, a token file and a
// kubeconfig with a client-certificate context and a token context; a second
// run keeps the CA and the token.
func TestSetupSecure(t *testing.T) {
	dir := t.TempDir()
	f, err := setupSecure(dir, "0.0.0.0:8443")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(f.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Clusters["podwarden"].Server; got != "https://127.0.0.1:8443" {
		t.Errorf("server %q", got)
	}
	if cfg.CurrentContext != "podwarden" || cfg.Contexts["podwarden-token"] == nil {
		t.Errorf("contexts %v, current %q", cfg.Contexts, cfg.CurrentContext)
	}
	token := cfg.AuthInfos[adminUser+"-token"].Token
	if len(token) < 32 {
		t.Errorf("token %q", token)
	}
	if info, err := os.Stat(f.caKey); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode: %v %v", info, err)
	}
	ca1, _ := os.ReadFile(f.caCert)

	f2, err := setupSecure(dir, "0.0.0.0:8443")
	if err != nil {
		t.Fatal(err)
	}
	ca2, _ := os.ReadFile(f2.caCert)
	cfg2, err := clientcmd.LoadFromFile(f2.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if string(ca1) != string(ca2) || cfg2.AuthInfos[adminUser+"-token"].Token != token {
		t.Error("a second run changed the CA or the token")
	}
}

// TestSecureKubeconfigWithKubectl: the kubeconfig that -secure writes reaches
// a gateway configured by it, with both contexts.
func TestSecureKubeconfigWithKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f, err := setupSecure(dir, lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := gateway.Config{ListenAddr: lis.Addr().String(), Logger: slog.New(slog.DiscardHandler)}
	f.gatewayConfig(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	h, err := gateway.NewHandler(ctx, cfg, gateway.Backends{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gateway.Serve(ctx, cfg, lis, h) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, kctx := range []string{"podwarden", "podwarden-token"} {
		t.Run(kctx, func(t *testing.T) {
			cctx, ccancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer ccancel()
			cmd := exec.CommandContext(cctx, kubectl, "--kubeconfig", f.kubeconfig, "--context", kctx, "get", "--raw", "/apis")
			cmd.Env = append(os.Environ(), "HOME="+dir, "KUBECACHEDIR="+filepath.Join(dir, "cache"))
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), `"APIGroupList"`) {
				t.Fatalf("kubectl get --raw /apis: %v\n%s", err, out)
			}
		})
	}
}
