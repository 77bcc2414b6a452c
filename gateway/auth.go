package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/podwarden/podwarden/shared/grpcserver"
)

// UserInfo is who a request was authenticated as (kube-apiserver's user.Info).
type UserInfo struct {
	Name   string
	UID    string
	Groups []string
}

// Kubernetes' groups every authenticated user is in, and the one that bypasses
// the in-flight limits (user.AllAuthenticated, user.SystemPrivilegedGroup).
const (
	groupAuthenticated = "system:authenticated"
	groupMasters       = "system:masters"
)

type userKey struct{}

// userFrom is the user a request was authenticated as, if any.
func userFrom(ctx context.Context) (UserInfo, bool) {
	u, ok := ctx.Value(userKey{}).(UserInfo)
	return u, ok
}

// tokenEntry is one line of a token file.
type tokenEntry struct {
	token []byte
	user  UserInfo
}

// tokenAuth authenticates bearer tokens read from a token file.
type tokenAuth struct {
	entries []tokenEntry
}

// readTokenFile reads a kube-apiserver --token-auth-file: CSV lines of
// token,user,uid[,"group1,group2"]. As Kubernetes' tokenfile authenticator
// does, it rejects a line of fewer than three columns and skips a line whose
// token is empty; a token given twice is an error here (Kubernetes keeps the
// last and warns), so that a typo cannot silently change who a token is.
func readTokenFile(path string) (*tokenAuth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token auth file: %w", err)
	}
	defer f.Close()
	ta, err := parseTokenFile(f)
	if err != nil {
		return nil, fmt.Errorf("token auth file %s: %w", path, err)
	}
	return ta, nil
}

func parseTokenFile(r io.Reader) (*tokenAuth, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	ta := &tokenAuth{}
	seen := map[string]int{}
	for line := 1; ; line++ {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(record) < 3 {
			return nil, fmt.Errorf("line %d: must have at least 3 columns (token, user name, user uid), found %d", line, len(record))
		}
		token := strings.TrimSpace(record[0])
		if token == "" {
			continue
		}
		if prev, ok := seen[token]; ok {
			return nil, fmt.Errorf("line %d: the token of line %d again", line, prev)
		}
		seen[token] = line
		u := UserInfo{Name: strings.TrimSpace(record[1]), UID: strings.TrimSpace(record[2])}
		if u.Name == "" {
			return nil, fmt.Errorf("line %d: empty user name", line)
		}
		if len(record) >= 4 && strings.TrimSpace(record[3]) != "" {
			for _, g := range strings.Split(record[3], ",") {
				if g = strings.TrimSpace(g); g != "" {
					u.Groups = append(u.Groups, g)
				}
			}
		}
		ta.entries = append(ta.entries, tokenEntry{token: []byte(token), user: u})
	}
	if len(ta.entries) == 0 {
		return nil, errors.New("no token")
	}
	return ta, nil
}

// authenticate finds the user of token, comparing every entry in constant time.
func (ta *tokenAuth) authenticate(token string) (UserInfo, bool) {
	var (
		found UserInfo
		ok    bool
	)
	for _, e := range ta.entries {
		if subtle.ConstantTimeCompare(e.token, []byte(token)) == 1 {
			found, ok = e.user, true
		}
	}
	return found, ok
}

// bearerToken is the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// certUser is the user of a verified client certificate: the subject's
// CommonName, with its Organizations as groups (Kubernetes' x509 authenticator).
func certUser(r *http.Request) (UserInfo, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return UserInfo{}, false
	}
	subject := r.TLS.VerifiedChains[0][0].Subject
	if subject.CommonName == "" {
		return UserInfo{}, false
	}
	return UserInfo{Name: subject.CommonName, Groups: slices.Clone(subject.Organization)}, true
}

// publicPaths are answered without authentication: the probes and /version,
// which Kubernetes' system:public-info-viewer role opens to everyone.
var publicPaths = []string{"/healthz", "/livez", "/readyz", "/version"}

func isPublicPath(p string) bool {
	for _, pp := range publicPaths {
		if p == pp || strings.HasPrefix(p, pp+"/") {
			return true
		}
	}
	return false
}

// authenticator authenticates requests by client certificate, then by bearer
// token, as kube-apiserver's union authenticator does.
type authenticator struct {
	clientCerts bool
	tokens      *tokenAuth
}

// authenticated reports who sent r. A request that carries a token the file
// does not know is not authenticated, even with a good certificate missing.
func (a *authenticator) authenticated(r *http.Request) (UserInfo, bool) {
	if a.clientCerts {
		if u, ok := certUser(r); ok {
			return u, true
		}
	}
	if a.tokens != nil {
		if token, ok := bearerToken(r); ok {
			return a.tokens.authenticate(token)
		}
	}
	return UserInfo{}, false
}

// authenticate answers 401 with an Unauthorized Status to a request that is
// not authenticated (the probes and /version excepted), and puts the user of
// the others in their context. With no authenticator it passes everything.
func (g *gateway) authenticate(a *authenticator, next http.Handler) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.authenticated(r)
		if !ok {
			if isPublicPath(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			g.writeStatus(w, r, g.json, failureStatus(http.StatusUnauthorized, ReasonUnauthorized, "Unauthorized"))
			return
		}
		if n, ok := r.Context().Value(requestNoteKey{}).(*requestNote); ok {
			n.user = u.Name // for the request log
		}
		// Credentials stop here: the backends never see them.
		r.Header.Del("Authorization")
		if !slices.Contains(u.Groups, groupAuthenticated) {
			u.Groups = append(u.Groups, groupAuthenticated)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// isLoopbackListen reports whether a listen address only accepts connections
// from this machine: a loopback IP or "localhost". An empty host (":8080")
// listens on every interface.
func isLoopbackListen(addr string) bool {
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

// validateSecurity checks the TLS and authentication settings: a cert without
// its key (or the reverse), client certificates without TLS, and a listen
// address others can reach without authentication and TLS are refused.
func (c Config) validateSecurity() error {
	var errs []error
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS needs both a certificate file and a key file"))
	}
	tls := c.TLSCertFile != "" && c.TLSKeyFile != ""
	if c.ClientCAFile != "" && !tls {
		errs = append(errs, errors.New("client CA file: client certificates need TLS (a certificate and key file)"))
	}
	addr := c.ListenAddr
	if addr == "" {
		addr = DefaultListenAddr
	}
	if !isLoopbackListen(addr) && !c.AllowUnauthenticated {
		if c.TokenAuthFile == "" && c.ClientCAFile == "" {
			errs = append(errs, fmt.Errorf("listen address %s is not loopback: refusing to serve it without authentication (a token auth file or a client CA file; %s=true for a private network)", addr, grpcserver.EnvAllowUnauthenticated))
		}
		if !tls {
			errs = append(errs, fmt.Errorf("listen address %s is not loopback: refusing to serve it without TLS (a certificate and key file)", addr))
		}
	}
	return errors.Join(errs...)
}
