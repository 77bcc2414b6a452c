package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/podwarden/podwarden/gateway"
	"github.com/podwarden/podwarden/shared/grpcserver"
	"github.com/podwarden/podwarden/shared/pki"
)

// secureFiles are the files of a `make run ARGS=-secure` run, under <data>/pki:
// a local CA, the gateway's serving certificate, the services' certificate
// (mutual TLS among them), an admin client certificate, a token file, and a
// kubeconfig with both users.
type secureFiles struct {
	dir                     string
	caCert, caKey           string
	gatewayCert, gatewayKey string
	serviceCert, serviceKey string
	tokenFile               string
	kubeconfig              string
}

// The user make run -secure's credentials name (system:masters, as kubeadm's
// admin.conf, so the in-flight limits never refuse it).
const (
	adminUser  = "podwarden-admin"
	adminGroup = "system:masters"
)

// setupSecure writes (or reuses) the CA and token under dataDir/pki, issues
// fresh certificates from that CA, and writes the kubeconfig for a gateway on
// httpAddr. The CA and the token survive runs, so a kubeconfig copied
// elsewhere keeps working.
func setupSecure(dataDir, httpAddr string) (secureFiles, error) {
	dir := filepath.Join(dataDir, "pki")
	f := secureFiles{
		dir:    dir,
		caCert: filepath.Join(dir, "ca.crt"), caKey: filepath.Join(dir, "ca.key"),
		gatewayCert: filepath.Join(dir, "gateway.crt"), gatewayKey: filepath.Join(dir, "gateway.key"),
		serviceCert: filepath.Join(dir, "services.crt"), serviceKey: filepath.Join(dir, "services.key"),
		tokenFile:  filepath.Join(dir, "tokens.csv"),
		kubeconfig: filepath.Join(dir, "kubeconfig"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	ca, err := pki.LoadCA(f.caCert, f.caKey)
	if errors.Is(err, fs.ErrNotExist) {
		if ca, err = pki.NewCA("podwarden-local-ca"); err == nil {
			err = ca.Write(f.caCert, f.caKey)
		}
	}
	if err != nil {
		return f, fmt.Errorf("local CA: %w", err)
	}
	host, _, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return f, fmt.Errorf("gateway address %s: %w", httpAddr, err)
	}
	serving := pki.LocalServer("podwarden-gateway")
	if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
		serving.IPs = append(serving.IPs, ip)
	} else if ip == nil && host != "" && host != "localhost" {
		serving.DNSNames = append(serving.DNSNames, host)
	}
	issued := []struct {
		req       pki.Request
		cert, key string
	}{
		{req: serving, cert: f.gatewayCert, key: f.gatewayKey},
		{req: pki.LocalServer("podwarden-services"), cert: f.serviceCert, key: f.serviceKey},
	}
	for _, is := range issued {
		p, err := ca.Issue(is.req)
		if err != nil {
			return f, err
		}
		if err := p.Write(is.cert, is.key); err != nil {
			return f, err
		}
	}
	admin, err := ca.Issue(pki.Request{CommonName: adminUser, Organizations: []string{adminGroup}, Client: true})
	if err != nil {
		return f, err
	}
	token, err := ensureToken(f.tokenFile)
	if err != nil {
		return f, err
	}
	return f, writeKubeconfig(f.kubeconfig, kubeconfigServer(httpAddr), ca.CertPEM, admin, token)
}

// ensureToken reads the admin token of tokenFile, writing a new random one
// when the file does not exist.
func ensureToken(tokenFile string) (string, error) {
	data, err := os.ReadFile(tokenFile)
	if err == nil {
		token, _, _ := strings.Cut(string(data), ",")
		if token = strings.TrimSpace(token); token != "" {
			return token, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b)
	line := fmt.Sprintf("%s,%s,%s,%q\n", token, adminUser, adminUser, adminGroup)
	return token, os.WriteFile(tokenFile, []byte(line), 0o600)
}

// kubeconfigServer is the https URL of a gateway listening on httpAddr (an
// all-interfaces address is reached on loopback).
func kubeconfigServer(httpAddr string) string {
	host, port, _ := net.SplitHostPort(httpAddr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// writeKubeconfig writes a kubeconfig with two contexts on one cluster:
// "podwarden" (the client certificate, current) and "podwarden-token".
func writeKubeconfig(path, server string, caPEM []byte, admin pki.Pair, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["podwarden"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[adminUser] = &clientcmdapi.AuthInfo{ClientCertificateData: admin.CertPEM, ClientKeyData: admin.KeyPEM}
	cfg.AuthInfos[adminUser+"-token"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["podwarden"] = &clientcmdapi.Context{Cluster: "podwarden", AuthInfo: adminUser, Namespace: "default"}
	cfg.Contexts["podwarden-token"] = &clientcmdapi.Context{Cluster: "podwarden", AuthInfo: adminUser + "-token", Namespace: "default"}
	cfg.CurrentContext = "podwarden"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	return os.Chmod(path, 0o600)
}

// gatewayConfig sets the gateway's TLS and authentication from f.
func (f secureFiles) gatewayConfig(cfg *gateway.Config) {
	cfg.TLSCertFile, cfg.TLSKeyFile = f.gatewayCert, f.gatewayKey
	cfg.ClientCAFile = f.caCert
	cfg.TokenAuthFile = f.tokenFile
	cfg.BackendSecurity = f.grpcSecurity()
}

// grpcSecurity is mutual TLS among the services and from the gateway, with
// health open (probes); grpcurl needs the CA and a certificate (the banner
// says which).
func (f secureFiles) grpcSecurity() grpcserver.Security {
	return grpcserver.Security{
		CertFile: f.serviceCert, KeyFile: f.serviceKey, CAFile: f.caCert,
		Public: []string{grpcserver.PublicHealth},
	}
}

// waitHTTPS polls url, trusting the CA of caFile, until it answers 200.
func waitHTTPS(ctx context.Context, url, caFile string, timeout time.Duration) error {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v", url, timeout)
		case <-tick.C:
		}
	}
}
