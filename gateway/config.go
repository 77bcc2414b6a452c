package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/podwarden/podwarden/shared/grpcserver"
)

// Default addresses of the gateway and of the backend services (DESIGN.md, "Running it").
const (
	DefaultListenAddr      = "127.0.0.1:8080"
	DefaultDeploymentAddr  = "127.0.0.1:9101"
	DefaultStatefulSetAddr = "127.0.0.1:9102"
	DefaultDaemonSetAddr   = "127.0.0.1:9103"
	DefaultJobAddr         = "127.0.0.1:9104"
	DefaultAutoscalerAddr  = "127.0.0.1:9105"
	DefaultNodeAddr        = "127.0.0.1:9106"
	DefaultCoreAddr        = "127.0.0.1:9107"

	// DefaultMaxBodyBytes is kube-apiserver's limit on a request body (3 MiB).
	DefaultMaxBodyBytes = 3 << 20
	// DefaultReadyTimeout bounds one backend health check of /readyz.
	DefaultReadyTimeout = 2 * time.Second
	// DefaultMaxRequestsInFlight and DefaultMaxMutatingRequestsInFlight are
	// kube-apiserver's --max-requests-inflight and --max-mutating-requests-inflight.
	DefaultMaxRequestsInFlight         = 400
	DefaultMaxMutatingRequestsInFlight = 200
	// DefaultMaxWatches is the gateway command's cap on open watches.
	DefaultMaxWatches = 10000
)

// Config configures the gateway. The zero value of a field means its default,
// except for the backend addresses: an empty address means "not deployed", and
// that backend is skipped (no routes, not in /readyz, not asked for events).
type Config struct {
	// ListenAddr is the HTTP listen address (default 127.0.0.1:8080).
	ListenAddr string

	// gRPC addresses of the backends (host:port). Empty: not deployed.
	DeploymentAddr  string
	StatefulSetAddr string
	DaemonSetAddr   string
	JobAddr         string
	AutoscalerAddr  string
	NodeAddr        string
	CoreAddr        string

	// MaxBodyBytes caps a request body; larger requests get 413 (default 3 MiB).
	MaxBodyBytes int64
	// ReadyTimeout bounds each backend's health check in /readyz (default 2s).
	ReadyTimeout time.Duration

	// TLSCertFile and TLSKeyFile, both set, make the gateway serve HTTPS with
	// that certificate (kube-apiserver's --tls-cert-file, --tls-private-key-file).
	TLSCertFile string
	TLSKeyFile  string
	// ClientCAFile, when set, authenticates a request by a client certificate
	// signed by one of its CAs: the user is the certificate's CommonName, the
	// groups its Organizations (kube-apiserver's --client-ca-file). Needs TLS.
	ClientCAFile string
	// TokenAuthFile, when set, authenticates a request by its bearer token, from
	// a CSV file of token,user,uid,"group1,group2" lines (kube-apiserver's
	// --token-auth-file).
	TokenAuthFile string
	// AllowUnauthenticated lets a non-loopback ListenAddr serve without
	// authentication and TLS: for a private network nothing else reaches (a
	// container network published on the host's loopback), never a shared one.
	AllowUnauthenticated bool

	// BackendSecurity is how the gateway reaches the services: TLS against
	// their CA, its client certificate, the shared token (PODWARDEN_GRPC_*).
	BackendSecurity grpcserver.Security

	// MaxRequestsInFlight and MaxMutatingRequestsInFlight cap the requests being
	// served at once, read-only (get, list) and mutating (every other verb) apart;
	// a request over its cap gets 429 with Retry-After. Watches and other
	// long-running requests are not counted. 0 means no cap (the zero Config);
	// DefaultConfig, and so the gateway command, has kube-apiserver's 400 and 200.
	MaxRequestsInFlight         int
	MaxMutatingRequestsInFlight int
	// MaxWatches caps the watches open at once; the next gets 429 with
	// Retry-After. 0 means no cap; DefaultConfig has DefaultMaxWatches.
	MaxWatches int
	// MaxListItems caps the items of one list answer: a list asked without a
	// limit, or a larger one, is answered in pages of MaxListItems (with
	// metadata.continue). 0, the default, means no cap.
	MaxListItems int64
	// Logger receives the request log and warnings (default slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig is the configuration of a local run: the backends that exist
// of every service at their default addresses.
func DefaultConfig() Config {
	return Config{
		ListenAddr:      DefaultListenAddr,
		DeploymentAddr:  DefaultDeploymentAddr,
		StatefulSetAddr: DefaultStatefulSetAddr,
		DaemonSetAddr:   DefaultDaemonSetAddr,
		JobAddr:         DefaultJobAddr,
		AutoscalerAddr:  DefaultAutoscalerAddr,
		NodeAddr:        DefaultNodeAddr,
		CoreAddr:        DefaultCoreAddr,
		MaxBodyBytes:    DefaultMaxBodyBytes,
		ReadyTimeout:    DefaultReadyTimeout,

		MaxRequestsInFlight:         DefaultMaxRequestsInFlight,
		MaxMutatingRequestsInFlight: DefaultMaxMutatingRequestsInFlight,
		MaxWatches:                  DefaultMaxWatches,
	}
}

// withDefaults fills the zero fields that have a default.
func (c Config) withDefaults() Config {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max body bytes %d: must not be negative", c.MaxBodyBytes))
	}
	if c.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("ready timeout %s: must not be negative", c.ReadyTimeout))
	}
	if c.MaxRequestsInFlight < 0 {
		errs = append(errs, fmt.Errorf("max requests in flight %d: must not be negative", c.MaxRequestsInFlight))
	}
	if c.MaxMutatingRequestsInFlight < 0 {
		errs = append(errs, fmt.Errorf("max mutating requests in flight %d: must not be negative", c.MaxMutatingRequestsInFlight))
	}
	if c.MaxWatches < 0 {
		errs = append(errs, fmt.Errorf("max watches %d: must not be negative", c.MaxWatches))
	}
	if c.MaxListItems < 0 {
		errs = append(errs, fmt.Errorf("max list items %d: must not be negative", c.MaxListItems))
	}
	errs = append(errs, c.validateSecurity(), c.BackendSecurity.Validate())
	seen := map[string]string{}
	for _, b := range c.backendAddrs() {
		if b.addr == "" {
			continue
		}
		if other, ok := seen[b.addr]; ok {
			// Every service registers EventService and health on its own port:
			// two backends on one address would answer events twice.
			errs = append(errs, fmt.Errorf("backends %s and %s share the address %s", other, b.name, b.addr))
		}
		seen[b.addr] = b.name
	}
	return errors.Join(errs...)
}

// Backend names, as used in logs, /readyz and errors.
const (
	BackendDeployment  = "deployment"
	BackendStatefulSet = "statefulset"
	BackendDaemonSet   = "daemonset"
	BackendJob         = "job"
	BackendAutoscaler  = "autoscaler"
	BackendNode        = "node"
	BackendCore        = "core"
)

type backendAddr struct {
	name string
	addr string
}

// backendAddrs lists every backend with its address, in a fixed order.
func (c Config) backendAddrs() []backendAddr {
	return []backendAddr{
		{BackendDeployment, c.DeploymentAddr},
		{BackendStatefulSet, c.StatefulSetAddr},
		{BackendDaemonSet, c.DaemonSetAddr},
		{BackendJob, c.JobAddr},
		{BackendAutoscaler, c.AutoscalerAddr},
		{BackendNode, c.NodeAddr},
		{BackendCore, c.CoreAddr},
	}
}
