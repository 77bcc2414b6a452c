// Command gateway serves podwarden's Kubernetes-style REST API in front of the
// backend services' gRPC APIs.
//
// Every flag has an environment variable; a flag given on the command line wins.
// An empty backend address means the backend is not deployed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/podwarden/podwarden/gateway"
	"github.com/podwarden/podwarden/shared/grpcserver"
)

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run() error {
	def := gateway.DefaultConfig()
	var (
		cfg      gateway.Config
		logLevel string
	)
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.StringVar(&cfg.ListenAddr, "http-addr", env("PODWARDEN_HTTP_ADDR", def.ListenAddr), "HTTP listen address [PODWARDEN_HTTP_ADDR]")
	fs.StringVar(&cfg.DeploymentAddr, "deployment-addr", env("PODWARDEN_DEPLOYMENT_ADDR", def.DeploymentAddr), "deployment service gRPC address [PODWARDEN_DEPLOYMENT_ADDR]")
	fs.StringVar(&cfg.StatefulSetAddr, "statefulset-addr", env("PODWARDEN_STATEFULSET_ADDR", def.StatefulSetAddr), "statefulset service gRPC address, e.g. "+gateway.DefaultStatefulSetAddr+" [PODWARDEN_STATEFULSET_ADDR]")
	fs.StringVar(&cfg.DaemonSetAddr, "daemonset-addr", env("PODWARDEN_DAEMONSET_ADDR", def.DaemonSetAddr), "daemonset service gRPC address, e.g. "+gateway.DefaultDaemonSetAddr+" [PODWARDEN_DAEMONSET_ADDR]")
	fs.StringVar(&cfg.JobAddr, "job-addr", env("PODWARDEN_JOB_ADDR", def.JobAddr), "job service gRPC address, e.g. "+gateway.DefaultJobAddr+" [PODWARDEN_JOB_ADDR]")
	fs.StringVar(&cfg.AutoscalerAddr, "autoscaler-addr", env("PODWARDEN_AUTOSCALER_ADDR", def.AutoscalerAddr), "autoscaler service gRPC address, e.g. "+gateway.DefaultAutoscalerAddr+" [PODWARDEN_AUTOSCALER_ADDR]")
	fs.StringVar(&cfg.NodeAddr, "node-addr", env("PODWARDEN_NODE_ADDR", def.NodeAddr), "node service gRPC address [PODWARDEN_NODE_ADDR]")
	fs.StringVar(&cfg.CoreAddr, "core-addr", env("PODWARDEN_CORE_ADDR", def.CoreAddr), "core service gRPC address (Leases), e.g. "+gateway.DefaultCoreAddr+" [PODWARDEN_CORE_ADDR]")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", envInt("PODWARDEN_GATEWAY_MAX_BODY_BYTES", def.MaxBodyBytes), "largest accepted request body [PODWARDEN_GATEWAY_MAX_BODY_BYTES]")
	fs.DurationVar(&cfg.ReadyTimeout, "ready-timeout", envDuration("PODWARDEN_GATEWAY_READY_TIMEOUT", def.ReadyTimeout), "timeout of each backend health check in /readyz [PODWARDEN_GATEWAY_READY_TIMEOUT]")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert-file", env("PODWARDEN_GATEWAY_TLS_CERT_FILE", ""), "serve HTTPS with this PEM certificate (with -tls-private-key-file) [PODWARDEN_GATEWAY_TLS_CERT_FILE]")
	fs.StringVar(&cfg.TLSKeyFile, "tls-private-key-file", env("PODWARDEN_GATEWAY_TLS_KEY_FILE", ""), "PEM private key of -tls-cert-file [PODWARDEN_GATEWAY_TLS_KEY_FILE]")
	fs.StringVar(&cfg.ClientCAFile, "client-ca-file", env("PODWARDEN_GATEWAY_CLIENT_CA_FILE", ""), "authenticate client certificates signed by these PEM CAs (user: CN, groups: O) [PODWARDEN_GATEWAY_CLIENT_CA_FILE]")
	fs.StringVar(&cfg.TokenAuthFile, "token-auth-file", env("PODWARDEN_GATEWAY_TOKEN_AUTH_FILE", ""), "authenticate bearer tokens from this CSV file: token,user,uid,\"group1,group2\" [PODWARDEN_GATEWAY_TOKEN_AUTH_FILE]")
	fs.IntVar(&cfg.MaxRequestsInFlight, "max-requests-inflight", int(envInt("PODWARDEN_GATEWAY_MAX_REQUESTS_INFLIGHT", int64(def.MaxRequestsInFlight))), "read-only requests served at once before 429 (0: no limit) [PODWARDEN_GATEWAY_MAX_REQUESTS_INFLIGHT]")
	fs.IntVar(&cfg.MaxMutatingRequestsInFlight, "max-mutating-requests-inflight", int(envInt("PODWARDEN_GATEWAY_MAX_MUTATING_REQUESTS_INFLIGHT", int64(def.MaxMutatingRequestsInFlight))), "mutating requests served at once before 429 (0: no limit) [PODWARDEN_GATEWAY_MAX_MUTATING_REQUESTS_INFLIGHT]")
	fs.IntVar(&cfg.MaxWatches, "max-watches", int(envInt("PODWARDEN_GATEWAY_MAX_WATCHES", int64(def.MaxWatches))), "watches open at once before 429 (0: no limit) [PODWARDEN_GATEWAY_MAX_WATCHES]")
	fs.Int64Var(&cfg.MaxListItems, "max-list-items", envInt("PODWARDEN_GATEWAY_MAX_LIST_ITEMS", def.MaxListItems), "items of one list answer; more are paged with metadata.continue (0: no cap) [PODWARDEN_GATEWAY_MAX_LIST_ITEMS]")
	fs.BoolVar(&cfg.AllowUnauthenticated, "insecure-allow-unauthenticated", os.Getenv(grpcserver.EnvAllowUnauthenticated) == "true", "serve a non-loopback -http-addr without authentication and TLS: only on a private network ["+grpcserver.EnvAllowUnauthenticated+"=true]")
	fs.StringVar(&logLevel, "log-level", env("PODWARDEN_LOG_LEVEL", "info"), "debug, info, warn or error [PODWARDEN_LOG_LEVEL]")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("log level %q: %w", logLevel, err)
	}
	// The services' credentials (PODWARDEN_GRPC_*), as every service reads them.
	cfg.BackendSecurity = grpcserver.SecurityFromEnv()
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("component", "gateway")
	if err := cfg.Validate(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return gateway.Run(ctx, cfg)
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func envInt(key string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(key), 10, 64); err == nil {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return v
	}
	return def
}
