package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// serverTLS is the TLS configuration of cfg's listener, nil when cfg serves
// plain HTTP. With a client CA, a client may present a certificate, which
// must then be signed by that CA (tls.VerifyClientCertIfGiven): requests
// without one can still authenticate with a token, as on kube-apiserver.
func serverTLS(cfg Config) (*tls.Config, error) {
	if cfg.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s, key %s: %w", cfg.TLSCertFile, cfg.TLSKeyFile, err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if cfg.ClientCAFile != "" {
		pool, err := readCertPool(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client CA file: %w", err)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// readCertPool reads the PEM certificates of path into a pool.
func readCertPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return pool, nil
}

// newAuthenticator is cfg's authenticator, nil when cfg configures none.
func newAuthenticator(cfg Config) (*authenticator, error) {
	if cfg.TokenAuthFile == "" && cfg.ClientCAFile == "" {
		return nil, nil
	}
	a := &authenticator{clientCerts: cfg.ClientCAFile != ""}
	if cfg.TokenAuthFile != "" {
		ta, err := readTokenFile(cfg.TokenAuthFile)
		if err != nil {
			return nil, err
		}
		a.tokens = ta
	}
	return a, nil
}
