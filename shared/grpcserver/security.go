package grpcserver

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Security is how the services' gRPC servers authenticate their callers and
// how their clients (the gateway, the services calling each other)
// authenticate to them: a shared token, mutual TLS, or both (either then
// suffices). The zero value is plaintext with no authentication, which
// ValidateListen allows on loopback addresses only.
type Security struct {
	// CertFile and KeyFile are the service's certificate: it serves TLS with
	// it, and presents it as its client certificate when it calls a service.
	CertFile, KeyFile string
	// CAFile is the CA of the services' certificates: clients verify servers
	// against it, and servers with TLS authenticate a client certificate it
	// signed (mutual TLS).
	CAFile string
	// Token is the shared token: servers accept a call whose metadata has
	// "authorization: Bearer <Token>", clients send it. TokenFile, when set,
	// holds it instead (its first line).
	Token     string
	TokenFile string
	// Public are the gRPC services open without credentials: "health"
	// (grpc.health.v1, for probes) and "reflection" (for grpcurl).
	Public []string
	// AllowUnauthenticated lets a non-loopback address serve without
	// authentication: for a network nothing else can reach (a container
	// network), never for one users share.
	AllowUnauthenticated bool
}

// Environment variables of SecurityFromEnv.
const (
	EnvCertFile             = "PODWARDEN_GRPC_TLS_CERT_FILE"
	EnvKeyFile              = "PODWARDEN_GRPC_TLS_KEY_FILE"
	EnvCAFile               = "PODWARDEN_GRPC_CA_FILE"
	EnvToken                = "PODWARDEN_GRPC_TOKEN"
	EnvTokenFile            = "PODWARDEN_GRPC_TOKEN_FILE"
	EnvPublic               = "PODWARDEN_GRPC_PUBLIC"
	EnvAllowUnauthenticated = "PODWARDEN_INSECURE_ALLOW_UNAUTHENTICATED"
)

// Public service names.
const (
	PublicHealth     = "health"
	PublicReflection = "reflection"
)

// DefaultPublic keeps health checks open (Kubernetes' grpc probes and the
// healthcheck command send no credentials).
var DefaultPublic = []string{PublicHealth}

// publicPrefixes are the method prefixes of each public service name.
var publicPrefixes = map[string][]string{
	PublicHealth:     {"/grpc.health.v1.Health/"},
	PublicReflection: {"/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"},
}

// SecurityFromEnv reads Security from PODWARDEN_GRPC_* variables (and
// PODWARDEN_INSECURE_ALLOW_UNAUTHENTICATED=true). PODWARDEN_GRPC_PUBLIC is a
// comma-separated list ("health,reflection"; "none" for none); unset, health.
func SecurityFromEnv() Security {
	s := Security{
		CertFile:             os.Getenv(EnvCertFile),
		KeyFile:              os.Getenv(EnvKeyFile),
		CAFile:               os.Getenv(EnvCAFile),
		Token:                os.Getenv(EnvToken),
		TokenFile:            os.Getenv(EnvTokenFile),
		Public:               DefaultPublic,
		AllowUnauthenticated: os.Getenv(EnvAllowUnauthenticated) == "true",
	}
	if v, ok := os.LookupEnv(EnvPublic); ok {
		s.Public = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && p != "none" {
				s.Public = append(s.Public, p)
			}
		}
	}
	return s
}

// IsZero reports the zero Security (nothing configured).
func (s Security) IsZero() bool {
	return s.CertFile == "" && s.KeyFile == "" && s.CAFile == "" && s.Token == "" && s.TokenFile == "" &&
		len(s.Public) == 0 && !s.AllowUnauthenticated
}

func (s Security) tls() bool  { return s.CertFile != "" && s.KeyFile != "" }
func (s Security) mtls() bool { return s.tls() && s.CAFile != "" }

// Authenticated reports whether servers authenticate callers (a token, or
// mutual TLS).
func (s Security) Authenticated() bool { return s.Token != "" || s.TokenFile != "" || s.mtls() }

// Validate reports settings that cannot work.
func (s Security) Validate() error {
	var errs []error
	if (s.CertFile == "") != (s.KeyFile == "") {
		errs = append(errs, fmt.Errorf("gRPC TLS needs both a certificate and a key file (%s, %s)", EnvCertFile, EnvKeyFile))
	}
	if s.Token != "" && s.TokenFile != "" {
		errs = append(errs, fmt.Errorf("gRPC token: give %s or %s, not both", EnvToken, EnvTokenFile))
	}
	for _, p := range s.Public {
		if _, ok := publicPrefixes[p]; !ok {
			errs = append(errs, fmt.Errorf("gRPC public service %q (%s): must be %s or %s", p, EnvPublic, PublicHealth, PublicReflection))
		}
	}
	return errors.Join(errs...)
}

// ValidateListen refuses to serve a non-loopback address without
// authentication, unless AllowUnauthenticated.
func (s Security) ValidateListen(addr string) error {
	if s.Authenticated() || s.AllowUnauthenticated || IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("gRPC address %s is not loopback: refusing to serve it without authentication "+
		"(%s or %s, or mutual TLS with %s, %s and %s; %s=true for a private network)",
		addr, EnvToken, EnvTokenFile, EnvCertFile, EnvKeyFile, EnvCAFile, EnvAllowUnauthenticated)
}

// IsLoopback reports whether a listen address only accepts connections from
// this machine: a loopback IP or "localhost" (":9101" listens everywhere).
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (s Security) token() (string, error) {
	if s.TokenFile == "" {
		return s.Token, nil
	}
	data, err := os.ReadFile(s.TokenFile)
	if err != nil {
		return "", fmt.Errorf("gRPC token file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	token := strings.TrimSpace(line)
	if token == "" {
		return "", fmt.Errorf("gRPC token file %s: empty", s.TokenFile)
	}
	return token, nil
}

func readPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gRPC CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("gRPC CA file %s: no PEM certificate", path)
	}
	return pool, nil
}

// serverOptions are the transport credentials and the authentication
// interceptors of a server with s.
func (s Security) serverOptions() ([]grpc.ServerOption, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var opts []grpc.ServerOption
	if s.tls() {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("gRPC TLS certificate: %w", err)
		}
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if s.CAFile != "" {
			if tc.ClientCAs, err = readPool(s.CAFile); err != nil {
				return nil, err
			}
			// Verified when given; required by the interceptor on every
			// method that is not public.
			tc.ClientAuth = tls.VerifyClientCertIfGiven
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	if !s.Authenticated() {
		return opts, nil
	}
	token, err := s.token()
	if err != nil {
		return nil, err
	}
	a := &authChecker{token: token, mtls: s.mtls()}
	for _, p := range s.Public {
		a.public = append(a.public, publicPrefixes[p]...)
	}
	return append(opts, grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream)), nil
}

// authChecker accepts a call on a public method, from a verified client
// certificate (mutual TLS), or with the shared token.
type authChecker struct {
	token  string
	mtls   bool
	public []string
}

func (a *authChecker) check(ctx context.Context, method string) error {
	if slices.ContainsFunc(a.public, func(p string) bool { return strings.HasPrefix(method, p) }) {
		return nil
	}
	if a.mtls {
		if p, ok := peer.FromContext(ctx); ok {
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 {
				return nil
			}
		}
	}
	if a.token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		for _, v := range md.Get("authorization") {
			scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
			if ok && strings.EqualFold(scheme, "bearer") &&
				subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(a.token)) == 1 {
				return nil
			}
		}
	}
	return status.Error(codes.Unauthenticated, "Unauthenticated: a client certificate or the service token is required")
}

func (a *authChecker) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := a.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a *authChecker) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := a.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// DialOptions are the options of a client of the services: TLS verified
// against CAFile (presenting the service's certificate, for mutual TLS) when
// CAFile is set, plaintext otherwise; the shared token on every call when set.
func (s Security) DialOptions() ([]grpc.DialOption, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var opts []grpc.DialOption
	if s.CAFile != "" {
		pool, err := readPool(s.CAFile)
		if err != nil {
			return nil, err
		}
		tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if s.tls() {
			cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("gRPC client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	token, err := s.token()
	if err != nil {
		return nil, err
	}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: token}))
	}
	return opts, nil
}

// bearer sends "authorization: Bearer <token>". It does not require TLS: a
// token may be used on loopback, or on a private network (see the README).
type bearer struct{ token string }

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }
