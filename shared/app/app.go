// Package app wires what every podwarden service runs: its Postgres schema, the
// JetStream bus, the gRPC server, the NOTIFY listener, the outbox relay and leader
// election. A service's Run builds an App, registers its gRPC servers, and calls
// App.Run with the work only the leader does.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when PODWARDEN_DEBUG_ADDR is set
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/podwarden/podwarden/shared/announce"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/grpcserver"
	"github.com/podwarden/podwarden/shared/leader"
	"github.com/podwarden/podwarden/shared/metrics"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"
)

// Config is what every service needs. Services embed it in their own Config.
type Config struct {
	// PostgresDSN of the database holding the service's schema.
	PostgresDSN string
	// NATSURL of the NATS server(s); NATSConn, when set, is used instead (in-process).
	NATSURL  string
	NATSConn *nats.Conn
	// StreamReplicas of the JetStream streams (1 locally, 3 on a cluster).
	StreamReplicas int
	// GRPCAddr to listen on; Listener, when set, is used instead.
	GRPCAddr string
	Listener net.Listener
	// MetricsAddr serves Prometheus' GET /metrics; "" or "off" disables it.
	// FromEnv defaults it to the gRPC port + 100 on the gRPC host (9201 for 9101).
	MetricsAddr string
	// ReplicaID identifies this replica in leader election (default hostname-pid).
	ReplicaID string
	// LeaseTTL of the leader lease (default 5s).
	LeaseTTL time.Duration
	// Resync is the period of the full resync of every controller (default 30s).
	Resync time.Duration
	// Workers per controller (default 16: syncs wait on Postgres more than they compute).
	Workers int
	// GRPCSecurity is the gRPC server's TLS and authentication, and what the
	// service's own clients of other services use (PODWARDEN_GRPC_*).
	GRPCSecurity grpcserver.Security
	Log          *slog.Logger
}

// FromEnv fills unset fields from PODWARDEN_* environment variables and defaults.
func (c *Config) FromEnv(defaultGRPCAddr string) {
	setStr := func(dst *string, env, def string) {
		if *dst != "" {
			return
		}
		if v := os.Getenv(env); v != "" {
			*dst = v
			return
		}
		*dst = def
	}
	setStr(&c.PostgresDSN, "PODWARDEN_POSTGRES_DSN", "")
	setStr(&c.NATSURL, "PODWARDEN_NATS_URL", nats.DefaultURL)
	setStr(&c.GRPCAddr, "PODWARDEN_GRPC_ADDR", defaultGRPCAddr)
	setStr(&c.MetricsAddr, "PODWARDEN_METRICS_ADDR", DefaultMetricsAddr(defaultGRPCAddr))
	setStr(&c.ReplicaID, "PODWARDEN_REPLICA_ID", "")
	if c.StreamReplicas == 0 {
		c.StreamReplicas, _ = strconv.Atoi(os.Getenv("PODWARDEN_STREAM_REPLICAS"))
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL, _ = time.ParseDuration(os.Getenv("PODWARDEN_LEASE_TTL"))
	}
	if c.Resync == 0 {
		c.Resync, _ = time.ParseDuration(os.Getenv("PODWARDEN_RESYNC"))
	}
	if c.Workers == 0 {
		c.Workers, _ = strconv.Atoi(os.Getenv("PODWARDEN_WORKERS"))
	}
	if c.Log == nil {
		c.Log = NewLogger(os.Getenv("PODWARDEN_LOG_LEVEL"))
	}
	if c.GRPCSecurity.IsZero() {
		c.GRPCSecurity = grpcserver.SecurityFromEnv()
	}
}

// DefaultMetricsAddr is the metrics address that goes with a service's default gRPC
// address: the same host, the port + 100 (127.0.0.1:9101 -> 127.0.0.1:9201); "" when
// grpcAddr has no numeric port.
func DefaultMetricsAddr(grpcAddr string) string {
	host, port, err := net.SplitHostPort(grpcAddr)
	if err != nil {
		return ""
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p+100 > 65535 {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(p+100))
}

func (c *Config) metricsEnabled() bool { return c.MetricsAddr != "" && c.MetricsAddr != metrics.Off }

// NewLogger returns a text slog logger at level ("debug", "info" (default), "warn", "error").
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil || level == "" {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func (c *Config) defaults() {
	if c.ReplicaID == "" {
		h, _ := os.Hostname()
		c.ReplicaID = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if c.Resync <= 0 {
		c.Resync = 30 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Validate reports missing settings.
func (c *Config) Validate() error {
	var errs []error
	if c.PostgresDSN == "" {
		errs = append(errs, errors.New("postgres DSN is required (PODWARDEN_POSTGRES_DSN)"))
	}
	if c.NATSURL == "" && c.NATSConn == nil {
		errs = append(errs, errors.New("NATS URL is required (PODWARDEN_NATS_URL)"))
	}
	if c.GRPCAddr == "" && c.Listener == nil {
		errs = append(errs, errors.New("gRPC address is required (PODWARDEN_GRPC_ADDR)"))
	}
	errs = append(errs, c.GRPCSecurity.Validate())
	if c.Listener == nil && c.GRPCAddr != "" {
		errs = append(errs, c.GRPCSecurity.ValidateListen(c.GRPCAddr))
	}
	if c.metricsEnabled() {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metrics address %q (PODWARDEN_METRICS_ADDR): %w; \"off\" disables it", c.MetricsAddr, err))
		}
	}
	return errors.Join(errs...)
}

// App is a started service skeleton.
type App struct {
	Name   string
	Config Config
	DB     *store.DB
	Bus    *bus.Bus
	GRPC   *grpcserver.Server
	Log    *slog.Logger
	Relay  *bus.Relay
	Leader *leader.Elector
	// Watch wakes watch streams on every committed change (fed by Run).
	Watch *watch.Hub
	// Now is the service's clock (events are stamped with it, and expire by it); New
	// sets time.Now.
	Now func() time.Time
	// Metrics is the service's own registry, served on Config.MetricsAddr; a
	// service may register its own collectors on it.
	Metrics *prometheus.Registry
	// Controllers are the metrics of the reconcile loops; Run hands them to the
	// controllers through the leader's context.
	Controllers *metrics.Controllers
	// Listening are more listeners' addresses (name, address, ...) that Run logs
	// and announces with the gRPC one (e.g. the node service's cluster DNS), bound
	// before Run.
	Listening []any
}

// New opens the service's schema (applying migrations), connects to NATS, declares
// the streams and builds the gRPC server. Close it when Run returns.
func New(ctx context.Context, name string, cfg Config, migrations fs.FS) (*App, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Log.With("service", name)
	db, err := store.Open(ctx, cfg.PostgresDSN, name, migrations)
	if err != nil {
		return nil, err
	}
	var b *bus.Bus
	if cfg.NATSConn != nil {
		b, err = bus.New(cfg.NATSConn, log)
	} else {
		b, err = bus.Connect(cfg.NATSURL, "podwarden-"+name, log)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	b.Replicas = cfg.StreamReplicas
	// A NATS server that just restarted into its cluster answers, but its stream
	// requests time out until it has caught up: try again for a while rather than
	// exit (the service would only be restarted into the same wait).
	if err := retryFor(ctx, log, "declare the streams", streamsTimeout, time.Second, b.EnsureStreams); err != nil {
		db.Close()
		if cfg.NATSConn == nil {
			b.Close()
		}
		return nil, err
	}
	srv, err := grpcserver.NewSecure(log, cfg.GRPCSecurity)
	if err != nil {
		db.Close()
		if cfg.NATSConn == nil {
			b.Close()
		}
		return nil, err
	}
	a := &App{
		Name: name, Config: cfg, DB: db, Bus: b, Log: log,
		GRPC:    srv,
		Watch:   watch.NewHub(),
		Relay:   bus.NewRelay(db, b, log),
		Leader:  &leader.Elector{DB: db, Name: name + "-controllers", Identity: cfg.ReplicaID, TTL: cfg.LeaseTTL, Log: log},
		Metrics: metrics.NewRegistry(),
	}
	a.Controllers = metrics.NewControllers(a.Metrics)
	a.Metrics.MustRegister(db.PoolCollector(), b.Collector(), a.Relay.Collector(), a.Leader.Collector())
	return a, nil
}

// streamsTimeout bounds how long New tries to declare the streams.
const streamsTimeout = time.Minute

// retryFor calls f until it succeeds, ctx ends or timeout has passed since the first
// call (then it returns f's last error), waiting pause between calls and logging
// each failure.
func retryFor(ctx context.Context, log *slog.Logger, what string, timeout, pause time.Duration, f func(context.Context) error) error {
	start := time.Now()
	for {
		err := f(ctx)
		if err == nil || ctx.Err() != nil || time.Since(start)+pause > timeout {
			return err
		}
		log.Warn("retrying at start", "what", what, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// Close releases the database and the NATS connection (unless it was given).
func (a *App) Close() {
	a.DB.Close()
	if a.Config.NATSConn == nil {
		a.Bus.Close()
	}
}

// Run serves gRPC, listens for the schema's notifications (calling onObject with the
// "kind/namespace/name" payloads, or "" after a reconnect), and runs lead plus the
// outbox relay while this replica is the leader. It returns when ctx ends.
func (a *App) Run(ctx context.Context, onObject func(payload string), lead func(ctx context.Context)) error {
	var metricsLis net.Listener
	if a.Config.metricsEnabled() {
		var err error
		if metricsLis, err = metrics.Listen(a.Config.MetricsAddr); err != nil {
			return err
		}
	}
	// Bound before serving, so the log names the port even for ":0" (the integration
	// harness lets the kernel pick and reads it there: no port picked then taken).
	lis := a.Config.Listener
	if lis == nil {
		var err error
		if lis, err = net.Listen("tcp", a.Config.GRPCAddr); err != nil {
			if metricsLis != nil {
				metricsLis.Close()
			}
			return fmt.Errorf("listen %s: %w", a.Config.GRPCAddr, err)
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	if metricsLis != nil {
		g.Go(func() error { return metrics.Serve(ctx, metricsLis, a.Metrics, a.Log) })
	}
	g.Go(func() error { return a.GRPC.ServeListener(ctx, lis) })
	g.Go(func() error {
		a.Watch.Run(ctx, a.DB, a.Log)
		return nil
	})
	g.Go(func() error {
		a.DB.Listen(ctx, a.Log, func(channel, payload string) {
			switch channel {
			case store.OutboxChannel:
				a.Relay.Wake()
			default:
				a.Watch.Notify(payload)
				if onObject != nil {
					onObject(payload)
				}
			}
		}, "objects", store.OutboxChannel)
		return nil
	})
	g.Go(func() error {
		// Campaign once the watch caches have loaded (see watch.Hub.Loaded): the
		// controllers' first resync must not come before their caches' lists.
		if err := a.Watch.Loaded(ctx); err != nil {
			return nil // ctx ended
		}
		a.Leader.Run(metrics.WithControllers(ctx, a.Controllers), func(ctx context.Context) {
			done := make(chan struct{})
			go func() { a.Relay.Run(ctx); close(done) }()
			go a.expireEvents(ctx)
			if lead != nil {
				lead(ctx)
			}
			<-done
		})
		return nil
	})
	if addr := os.Getenv("PODWARDEN_DEBUG_ADDR"); addr != "" {
		// Opt-in profiling: go tool pprof http://ADDR/debug/pprof/profile
		srv := &http.Server{Addr: addr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			go func() { <-ctx.Done(); _ = srv.Close() }()
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.Log.Warn("debug server failed", "addr", addr, "err", err)
			}
			return nil
		})
	}
	attrs := []any{"grpc", lis.Addr().String(), "replica", a.Config.ReplicaID}
	if metricsLis != nil {
		attrs = append(attrs, "metrics", "http://"+metricsLis.Addr().String()+"/metrics")
	}
	attrs = append(attrs, a.Listening...)
	a.Log.Info("serving", attrs...)
	if err := announce.Addrs(attrs...); err != nil {
		a.Log.Warn("announce the addresses", "err", err)
	}
	return g.Wait()
}

// EventTTL is how long an event is kept after it was last seen (kube-apiserver's
// --event-ttl, 1 hour).
const EventTTL = time.Hour

// expireEvents deletes the schema's events not seen for EventTTL, every few minutes,
// while this replica leads: every service records events, so every schema would grow
// without bound.
func (a *App) expireEvents(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := events.Trim(ctx, a.DB, a.Watch, a.Now().Add(-EventTTL)); err != nil && ctx.Err() == nil {
				a.Log.Warn("expire events", "err", err)
			}
		}
	}
}
