package pki

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"
)

func TestIssueVerifies(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue(LocalServer("gateway"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue(Request{CommonName: "alice", Organizations: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	for name, tc := range map[string]struct {
		pair  Pair
		usage x509.ExtKeyUsage
		host  string
	}{
		"server for 127.0.0.1": {pair: server, usage: x509.ExtKeyUsageServerAuth, host: "127.0.0.1"},
		"server for localhost": {pair: server, usage: x509.ExtKeyUsageServerAuth, host: "localhost"},
		"client":               {pair: client, usage: x509.ExtKeyUsageClientAuth},
	} {
		t.Run(name, func(t *testing.T) {
			kp, err := tls.X509KeyPair(tc.pair.CertPEM, tc.pair.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(kp.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
	if got := mustParse(t, client).Subject.Organization; len(got) != 1 || got[0] != "system:masters" {
		t.Errorf("client organizations %v", got)
	}
	if _, err := ca.Issue(Request{CommonName: "nothing"}); err == nil {
		t.Error("a certificate for neither server nor client was issued")
	}
}

func TestWriteLoadCA(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := ca.Write(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Fatal("loaded CA differs")
	}
	if _, err := loaded.Issue(LocalServer("again")); err != nil {
		t.Fatalf("issue with the loaded CA: %v", err)
	}
}

func mustParse(t *testing.T, p Pair) *x509.Certificate {
	t.Helper()
	kp, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}
