package streams

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Config configures the streaming server.
type Config struct {
	// Addr is where it listens (host:port; port 0 picks one). The REST facade
	// must reach it: the URLs it hands out carry this address.
	Addr string
	// Pods reads a pod (store.ErrNotFound when there is none).
	Pods func(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	// Endpoints reads a Service's Endpoints (services/{name}/proxy).
	Endpoints func(ctx context.Context, namespace, name string) (*nodev1.Endpoints, error)
	// ExecRuntime: containers are real processes (exec runs processes, ports
	// are the machine's); else the sim's shell and servers answer.
	ExecRuntime bool
	// KubernetesIP and DNSIP are the kubernetes and kube-dns Services'
	// ClusterIPs (the containers' KUBERNETES_SERVICE_HOST and nameserver).
	KubernetesIP, DNSIP string
	// DNSAddr is where the cluster DNS answers (UDP): the sim's nslookup asks
	// it; "" when it is off.
	DNSAddr string
	// Follow writes what container of pod writes from now on until it stops
	// (`kubectl attach`); nil: attach shows nothing.
	Follow func(ctx context.Context, pod *corev1.Pod, container string, out io.Writer) error
	// Sandboxes, when set, gives pods sandboxes (Linux namespaces): commands run
	// there with the machine's programs, and the exec runtime's ports are the
	// sandbox's. nil: no sandboxes (sim shell, or plain processes).
	Sandboxes Sandboxes
	Log       *slog.Logger
}

// Sandboxes makes and finds pods' sandboxes.
type Sandboxes interface {
	// Sandbox is the pod's sandbox, made on first use.
	Sandbox(p *corev1.Pod) (Sandbox, error)
}

// Sandbox is one pod's.
type Sandbox interface {
	// Start starts cmd inside the sandbox.
	Start(cmd *exec.Cmd) error
	// Dial connects to a TCP address from inside the sandbox.
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// Server is the node service's streaming server and its PodStreamService.
type Server struct {
	nodev1.UnimplementedPodStreamServiceServer
	cfg  Config
	cri  streaming.Server
	ln   net.Listener
	http *http.Server
	base *url.URL

	// active counts the streams running a command, an attach or a forward.
	active atomic.Int64

	mu      sync.Mutex
	proxies map[string]proxyTarget
	// written are the files commands wrote into sim containers (`kubectl
	// cp`), by pod uid: in memory, gone with the node service.
	written map[string]map[string]string
	ctx     context.Context
	cancel  context.CancelFunc
}

// proxyTarget is a granted proxy request: a pod's port.
type proxyTarget struct {
	pod     *corev1.Pod
	port    int32
	scheme  string
	expires time.Time
}

// proxyTokenTTL is how long a proxy URL can be used (the CRI request cache's).
const proxyTokenTTL = time.Minute

// Listen binds the server's address; Serve serves it.
func Listen(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	s := &Server{cfg: cfg, ln: ln, proxies: map[string]proxyTarget{}, written: map[string]map[string]string{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.base = &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/cri/"}
	criCfg := streaming.DefaultConfig
	criCfg.Addr = ln.Addr().String()
	criCfg.BaseURL = s.base
	s.cri, err = streaming.NewServer(criCfg, runtime{s})
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/cri/", s.watchDisconnect(s.cri))
	mux.HandleFunc("/proxy/{token}/", s.serveProxy)
	mux.HandleFunc("/proxy/{token}", s.serveProxy)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	return s, nil
}

// Active is the number of streams running a command, an attach or a port
// forward: 0 once every client is gone.
func (s *Server) Active() int64 { return s.active.Load() }

// Addr is where the server listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Close.
func (s *Server) Serve() error {
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server: listeners, open streams and the processes they run.
func (s *Server) Close() error {
	s.cancel()
	return s.http.Close()
}

// watchDisconnect gives each stream a context that ends when the client's
// connection does (after the upgrade, net/http no longer watches it), so a
// dropped stream stops what it runs, and when the server closes.
func (s *Server) watchDisconnect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(s.ctx, cancel)
		defer stop()
		next.ServeHTTP(&hijackWatcher{ResponseWriter: w, cancel: cancel}, r.WithContext(ctx))
	})
}

type hijackWatcher struct {
	http.ResponseWriter
	cancel func()
}

func (w *hijackWatcher) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	wc := &watchedConn{Conn: c, cancel: w.cancel}
	var r io.Reader = wc
	if n := rw.Reader.Buffered(); n > 0 {
		buffered, _ := rw.Reader.Peek(n)
		r = io.MultiReader(bytes.NewReader(append([]byte(nil), buffered...)), wc)
	}
	return wc, bufio.NewReadWriter(bufio.NewReader(r), bufio.NewWriter(wc)), nil
}

func (w *hijackWatcher) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// watchedConn cancels when reading fails: the client is gone, or the stream closed.
type watchedConn struct {
	net.Conn
	cancel func()
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.cancel()
	}
	return n, err
}

func (c *watchedConn) Close() error {
	c.cancel()
	return c.Conn.Close()
}

// pod reads a pod for the API: NotFound as kube-apiserver words it.
func (s *Server) pod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	if ns == "" {
		ns = "default"
	}
	p, err := s.cfg.Pods(ctx, ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.NotFound(apierr.GroupResource{Resource: "pods"}, name)
	}
	if err != nil {
		return nil, apierr.Internal(err)
	}
	return p, nil
}

// locate does kube-apiserver's checks of a container stream and the
// kubelet's: url is "" with refusal set when the kubelet would refuse.
func (s *Server) locate(ctx context.Context, ns, name, container string) (p *corev1.Pod, c string, refusal string, err error) {
	if p, err = s.pod(ctx, ns, name); err != nil {
		return nil, "", "", err
	}
	if c, err = ResolveContainer(p, container); err != nil {
		return nil, "", "", err
	}
	if err := Assigned(p); err != nil {
		return nil, "", "", err
	}
	return p, c, KubeletRefusal(p, c), nil
}

// GetExec implements PodStreamService.
func (s *Server) GetExec(ctx context.Context, req *nodev1.GetExecRequest) (*nodev1.GetExecResponse, error) {
	if len(req.GetCommand()) == 0 {
		return nil, apierr.BadRequest("you must specify at least 1 command")
	}
	p, c, refusal, err := s.locate(ctx, req.GetNamespace(), req.GetName(), req.GetContainer())
	if err != nil {
		return nil, err
	}
	if refusal != "" {
		return &nodev1.GetExecResponse{UpgradeError: refusal}, nil
	}
	resp, err := s.cri.GetExec(&runtimeapi.ExecRequest{ContainerId: containerKey(p, c), Cmd: req.GetCommand(),
		Tty: req.GetTty(), Stdin: req.GetStdin(), Stdout: req.GetStdout(), Stderr: req.GetStderr()})
	if err != nil {
		return nil, apierr.BadRequest(grpcMessage(err))
	}
	return &nodev1.GetExecResponse{Url: resp.GetUrl()}, nil
}

// GetAttach implements PodStreamService.
func (s *Server) GetAttach(ctx context.Context, req *nodev1.GetAttachRequest) (*nodev1.GetAttachResponse, error) {
	p, c, refusal, err := s.locate(ctx, req.GetNamespace(), req.GetName(), req.GetContainer())
	if err != nil {
		return nil, err
	}
	if refusal != "" {
		return &nodev1.GetAttachResponse{UpgradeError: refusal}, nil
	}
	resp, err := s.cri.GetAttach(&runtimeapi.AttachRequest{ContainerId: containerKey(p, c),
		Tty: req.GetTty(), Stdin: req.GetStdin(), Stdout: req.GetStdout(), Stderr: req.GetStderr()})
	if err != nil {
		return nil, apierr.BadRequest(grpcMessage(err))
	}
	return &nodev1.GetAttachResponse{Url: resp.GetUrl()}, nil
}

// GetPortForward implements PodStreamService.
func (s *Server) GetPortForward(ctx context.Context, req *nodev1.GetPortForwardRequest) (*nodev1.GetPortForwardResponse, error) {
	p, err := s.pod(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	if err := Assigned(p); err != nil {
		return nil, err
	}
	if p.GetStatus().GetPodIp() == "" && !p.GetSpec().GetHostNetwork() {
		return &nodev1.GetPortForwardResponse{UpgradeError: fmt.Sprintf("pod not found (%q)", p.GetMetadata().GetName()+"_"+p.GetMetadata().GetNamespace())}, nil
	}
	resp, err := s.cri.GetPortForward(&runtimeapi.PortForwardRequest{PodSandboxId: sandboxKey(p)})
	if err != nil {
		return nil, apierr.BadRequest(grpcMessage(err))
	}
	return &nodev1.GetPortForwardResponse{Url: resp.GetUrl()}, nil
}

// GetProxy implements PodStreamService: a one-time URL whose path is the
// proxied request's.
func (s *Server) GetProxy(ctx context.Context, req *nodev1.GetProxyRequest) (*nodev1.GetProxyResponse, error) {
	scheme, name, port := ParseProxyName(req.GetName())
	var p *corev1.Pod
	var n int32
	var err error
	switch req.GetKind() {
	case "pods":
		if p, err = s.pod(ctx, req.GetNamespace(), name); err != nil {
			return nil, err
		}
		if n, err = PodPort(p, port); err != nil {
			return nil, err
		}
	case "services":
		if p, n, err = s.serviceTarget(ctx, req.GetNamespace(), name, port); err != nil {
			return nil, err
		}
	default:
		return nil, apierr.BadRequest(fmt.Sprintf("kind: Unsupported value: %q: supported values: \"pods\", \"services\"", req.GetKind()))
	}
	if p.GetStatus().GetPodIp() == "" {
		return nil, apierr.BadRequest("address not allowed")
	}
	token := newToken()
	s.mu.Lock()
	now := time.Now()
	for k, t := range s.proxies {
		if now.After(t.expires) {
			delete(s.proxies, k)
		}
	}
	s.proxies[token] = proxyTarget{pod: p, port: n, scheme: scheme, expires: now.Add(proxyTokenTTL)}
	s.mu.Unlock()
	return &nodev1.GetProxyResponse{Url: (&url.URL{Scheme: "http", Host: s.Addr(), Path: "/proxy/" + token}).String()}, nil
}

// serviceTarget picks a ready endpoint of the Service's port, as
// kube-apiserver's service proxy does.
func (s *Server) serviceTarget(ctx context.Context, ns, name, port string) (*corev1.Pod, int32, error) {
	if ns == "" {
		ns = "default"
	}
	ep, err := s.cfg.Endpoints(ctx, ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, apierr.NotFound(apierr.GroupResource{Resource: "services"}, name)
	}
	if err != nil {
		return nil, 0, apierr.Internal(err)
	}
	for _, ss := range ep.GetSubsets() {
		for _, ep := range ss.GetPorts() {
			if port != "" && ep.GetName() != port && fmt.Sprint(ep.GetPort()) != port {
				continue
			}
			for _, a := range ss.GetAddresses() {
				ref := a.GetTargetRef()
				if ref.GetKind() != "Pod" {
					continue
				}
				p, err := s.cfg.Pods(ctx, ref.GetNamespace(), ref.GetName())
				if err == nil {
					return p, ep.GetPort(), nil
				}
			}
		}
	}
	return nil, 0, apierr.Internal(fmt.Errorf("no endpoints available for service %q", name))
}

// serveProxy serves one proxied request to a granted pod port.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	s.mu.Lock()
	t, ok := s.proxies[token]
	delete(s.proxies, token)
	s.mu.Unlock()
	if !ok || time.Now().After(t.expires) {
		http.NotFound(w, r)
		return
	}
	r.URL.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/proxy/"+token), "/")
	r.URL.RawPath = ""
	if s.cfg.ExecRuntime {
		target := &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", t.port)}
		if t.scheme == "https" {
			target.Scheme = "https"
		}
		if c, err := s.dialPod(r.Context(), t.pod, t.port); err == nil {
			c.Close()
			rp := httputil.NewSingleHostReverseProxy(target)
			rp.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return s.dialPod(ctx, t.pod, t.port)
			}}
			rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) { proxyError(w, t, err) }
			rp.ServeHTTP(w, r)
			return
		}
	}
	if h := simServer(t.pod, t.port); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	proxyError(w, t, fmt.Errorf("dial tcp %s:%d: connect: connection refused", t.pod.GetStatus().GetPodIp(), t.port))
}

// proxyError is kube-apiserver's answer when the backend cannot be reached.
func proxyError(w http.ResponseWriter, _ proxyTarget, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":"ServiceUnavailable","code":503}`+"\n",
		"error trying to reach service: "+err.Error())
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// grpcMessage is the message of a gRPC status error (cri-streaming's
// validation errors), or the error's text.
func grpcMessage(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}
