package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		wantErr string
	}{
		"defaults":          {cfg: DefaultConfig()},
		"zero value":        {cfg: Config{}},
		"negative body cap": {cfg: Config{MaxBodyBytes: -1}, wantErr: "max body bytes"},
		"shared address": {
			cfg:     Config{DeploymentAddr: "127.0.0.1:9101", JobAddr: "127.0.0.1:9101"},
			wantErr: "backends deployment and job share the address 127.0.0.1:9101",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDefaultConfigDeploysEveryBackend(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.ListenAddr != "127.0.0.1:8080" || cfg.DeploymentAddr != "127.0.0.1:9101" || cfg.NodeAddr != "127.0.0.1:9106" ||
		cfg.StatefulSetAddr != "127.0.0.1:9102" || cfg.MaxBodyBytes != 3<<20 {
		t.Errorf("DefaultConfig() = %+v", cfg)
	}
}

func TestServeUntilCancelled(t *testing.T) {
	cfg := Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	backends, closeConns, err := Dial(Config{DeploymentAddr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer closeConns()
	ctx, cancel := context.WithCancel(t.Context())
	h, err := NewHandler(ctx, cfg, backends)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, lis, h) }()

	resp, err := http.Get("http://" + lis.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestPanicBecomesA500Status(t *testing.T) {
	g := &gateway{log: slog.New(slog.NewTextHandler(io.Discard, nil)), json: newJSONMarshaler()}
	g.yaml = &yamlMarshaler{json: g.json}
	h := g.logRequests(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	e := &testEnv{t: t}
	e.srv = newHTTPTestServer(t, h)
	s := e.do(http.MethodGet, "/x", "").wantStatus(t, http.StatusInternalServerError, ReasonInternalError)
	if !strings.Contains(s["message"].(string), "boom") {
		t.Errorf("message %v", s["message"])
	}
}
