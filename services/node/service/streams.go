package service

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/services/node/internal/sandbox"
	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/services/node/internal/streams"
	"github.com/podwarden/podwarden/shared/app"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// DefaultStreamingAddr is where the streaming server (exec, attach,
// port-forward, proxy) listens: loopback, a free port. The gateway learns the
// address from the URLs PodStreamService hands out.
const DefaultStreamingAddr = "127.0.0.1:0"

// StreamingFromEnv sets StreamingAddr from PODWARDEN_STREAMING_ADDR.
func (c *Config) StreamingFromEnv() {
	c.StreamingAddr = envStr("PODWARDEN_STREAMING_ADDR", DefaultStreamingAddr)
}

// startStreams serves PodStreamService and its streaming server; stop closes
// it with every stream it serves.
func startStreams(a *app.App, cfg Config, rt runtime, dnsAddr string, podnet *sandbox.Network) (stop func(), err error) {
	addr := cfg.StreamingAddr
	if addr == "" {
		addr = DefaultStreamingAddr
	}
	var sbs streams.Sandboxes
	if podnet != nil {
		sbs = sandboxes{n: podnet, exec: cfg.Runtime == RuntimeExec}
	}
	srv, err := streams.Listen(streams.Config{
		Sandboxes: sbs,
		Addr:      addr,
		Pods: func(ctx context.Context, ns, name string) (*corev1.Pod, error) {
			return repo.Pods.Get(ctx, a.DB.Pool, ns, name)
		},
		Endpoints: func(ctx context.Context, ns, name string) (*nodev1.Endpoints, error) {
			return repo.Endpoints.Get(ctx, a.DB.Pool, ns, name)
		},
		ExecRuntime:  cfg.Runtime == RuntimeExec,
		KubernetesIP: ipam.KubernetesServiceIP,
		DNSIP:        ipam.DNSServiceIP,
		DNSAddr:      dnsAddr,
		Follow:       follower(a, cfg, rt),
		Log:          a.Log,
	})
	if err != nil {
		return nil, err
	}
	nodev1.RegisterPodStreamServiceServer(a.GRPC.GRPC, srv)
	a.Log.Info("streaming server listening", "addr", srv.Addr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(); err != nil {
			a.Log.Error("streaming server stopped", "err", err)
		}
	}()
	return func() { _ = srv.Close(); <-done }, nil
}

// follower writes a container's new log lines (the exec runtime's process
// output, or the sim program's) until it stops: what `kubectl attach` shows.
func follower(a *app.App, cfg Config, rt runtime) func(ctx context.Context, pod *corev1.Pod, container string, out io.Writer) error {
	return func(ctx context.Context, pod *corev1.Pod, container string, out io.Writer) error {
		read := func(p *corev1.Pod) ([]sim.LogEntry, bool) {
			if rt.logs != nil {
				if entries, more, ok := rt.logs.Log(p, container, false); ok {
					return entries, more
				}
			}
			entries, more, err := sim.ContainerLog(p, container, false, cfg.Clock.Now(), cfg.TimeScale)
			if err != nil {
				return nil, false
			}
			return entries, more
		}
		entries, more := read(pod)
		sent := len(entries)
		uid := pod.GetMetadata().GetUid()
		for more {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
			p, err := repo.Pods.Get(ctx, a.DB.Pool, pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetName())
			if err != nil || p.GetMetadata().GetUid() != uid {
				return nil
			}
			entries, more = read(p)
			if len(entries) < sent {
				sent = 0
			}
			var b strings.Builder
			for _, e := range entries[sent:] {
				b.WriteString(e.Text + "\n")
			}
			sent = len(entries)
			if b.Len() > 0 {
				if _, err := io.WriteString(out, b.String()); err != nil {
					return nil
				}
			}
		}
		return nil
	}
}
