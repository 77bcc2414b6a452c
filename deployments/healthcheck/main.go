// Command podwarden-healthcheck is the container health check shipped in every
// podwarden image (Docker HEALTHCHECK, compose healthchecks). The images are
// distroless, so there is no shell, curl or grpc_health_probe to call instead.
//
// With no flags it derives its targets from the service's own configuration:
// PODWARDEN_GRPC_ADDR -> grpc.health.v1 Check (overall server health), and
// PODWARDEN_HTTP_ADDR -> GET /healthz. An unspecified listen host (0.0.0.0, ::,
// empty) is probed on loopback. It exits 0 when every target is healthy, 1 otherwise.
//
// Kubernetes does not need it: the manifests use native gRPC and HTTP probes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	grpcAddr := flag.String("grpc", "", "gRPC address to check with grpc.health.v1 (host:port)")
	httpURL := flag.String("http", "", "URL to GET; healthy on a 2xx answer")
	timeout := flag.Duration("timeout", 3*time.Second, "overall deadline")
	flag.Parse()

	t := targets{GRPC: *grpcAddr, HTTP: *httpURL}
	if t.empty() {
		var err error
		if t, err = targetsFromEnv(os.Getenv); err != nil {
			fmt.Fprintln(os.Stderr, "podwarden-healthcheck:", err)
			os.Exit(1)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	err := t.check(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "podwarden-healthcheck:", err)
		os.Exit(1)
	}
}
