package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/util/proxy"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// streamResources are the pod and service subresources that are streams or
// proxies (served by hand, podStreams), with kube-apiserver's verbs.
var streamResources = []groupResource{
	{"v1", apiResource{Name: "pods/attach", Namespaced: true, Kind: "PodAttachOptions", Verbs: []string{"create", "get"}}},
	{"v1", apiResource{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}}},
	{"v1", apiResource{Name: "pods/portforward", Namespaced: true, Kind: "PodPortForwardOptions", Verbs: []string{"create", "get"}}},
	{"v1", apiResource{Name: "pods/proxy", Namespaced: true, Kind: "PodProxyOptions", Verbs: proxyVerbs}},
	{"v1", apiResource{Name: "services/proxy", Namespaced: true, Kind: "ServiceProxyOptions", Verbs: proxyVerbs}},
}

var proxyVerbs = []string{"create", "delete", "get", "patch", "update"}

var (
	podStreamPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)/(exec|attach|portforward)$`)
	proxyPath     = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/(pods|services)/([^/]+)/proxy(/.*)?$`)
)

// podStreams serves `kubectl exec`, `attach` and `port-forward` as
// kube-apiserver does: it asks the node service where the stream is (the CRI's
// URL on its streaming server, after the checks kube-apiserver and the kubelet
// make) and proxies the upgrade there (SPDY as it is; WebSocket v5 translated
// to SPDY, and port-forward's tunneled SPDY unwrapped, by k8s.io/apiserver's
// own handlers). The pods/proxy and services/proxy HTTP proxies go the same
// way. Everything else goes to next.
func (g *gateway) podStreams(node grpc.ClientConnInterface, next http.Handler) http.Handler {
	client := nodev1.NewPodStreamServiceClient(node)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := podStreamPath.FindStringSubmatch(r.URL.Path); m != nil && (r.Method == http.MethodGet || r.Method == http.MethodPost) {
			g.serveStream(w, r, client, transport, m[1], m[2], m[3])
			return
		}
		if m := proxyPath.FindStringSubmatch(r.URL.Path); m != nil {
			g.serveProxy(w, r, client, transport, m[1], m[2], m[3], m[4])
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveStream locates and proxies one exec, attach or port-forward stream.
func (g *gateway) serveStream(w http.ResponseWriter, r *http.Request, client nodev1.PodStreamServiceClient, transport http.RoundTripper, ns, name, kind string) {
	q := r.URL.Query()
	opts := translator.Options{Stdin: isTrue(q.Get("stdin")), Stdout: isTrue(q.Get("stdout")), Stderr: isTrue(q.Get("stderr")), Tty: isTrue(q.Get("tty"))}
	var loc, refusal string
	var err error
	ctx := r.Context()
	switch kind {
	case "exec":
		var resp *nodev1.GetExecResponse
		resp, err = client.GetExec(ctx, &nodev1.GetExecRequest{Namespace: ns, Name: name, Container: q.Get("container"), Command: q["command"],
			Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.Tty})
		loc, refusal = resp.GetUrl(), resp.GetUpgradeError()
	case "attach":
		var resp *nodev1.GetAttachResponse
		resp, err = client.GetAttach(ctx, &nodev1.GetAttachRequest{Namespace: ns, Name: name, Container: q.Get("container"),
			Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.Tty})
		loc, refusal = resp.GetUrl(), resp.GetUpgradeError()
	default:
		var resp *nodev1.GetPortForwardResponse
		resp, err = client.GetPortForward(ctx, &nodev1.GetPortForwardRequest{Namespace: ns, Name: name})
		loc, refusal = resp.GetUrl(), resp.GetUpgradeError()
	}
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	if refusal != "" {
		// The kubelet's answer passes through, as kube-apiserver's proxy passes it.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(refusal + "\n"))
		return
	}
	location, err := url.Parse(loc)
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	var h http.Handler = proxy.NewUpgradeAwareHandler(location, transport, false, true, g.streamResponder())
	switch kind {
	case "portforward":
		h = translator.NewTranslatingHandler(h, translator.NewTunnelingHandler(h), wsstream.IsWebSocketRequestWithTunnelingProtocol)
	default:
		h = translator.NewTranslatingHandler(h, translator.NewStreamTranslatorHandler(location, nil, 0, opts), wsstream.IsWebSocketRequestWithStreamCloseProtocol)
	}
	h.ServeHTTP(w, r)
}

// serveProxy proxies one HTTP request to a pod's port or a Service's endpoint.
func (g *gateway) serveProxy(w http.ResponseWriter, r *http.Request, client nodev1.PodStreamServiceClient, transport http.RoundTripper, ns, kind, name, rest string) {
	resp, err := client.GetProxy(r.Context(), &nodev1.GetProxyRequest{Namespace: ns, Kind: kind, Name: name})
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	location, err := url.Parse(resp.GetUrl())
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	location.Path = strings.TrimSuffix(location.Path, "/") + rest
	if rest == "" {
		location.Path += "/"
	}
	proxy.NewUpgradeAwareHandler(location, transport, false, false, g.streamResponder()).ServeHTTP(w, r)
}

// streamResponder answers a proxy that could not reach the node service.
func (g *gateway) streamResponder() proxy.ErrorResponder {
	return responderFunc(func(w http.ResponseWriter, r *http.Request, err error) {
		g.writeStatus(w, r, g.outbound(r), failureStatus(http.StatusServiceUnavailable, "ServiceUnavailable", "error trying to reach service: "+err.Error()))
	})
}

type responderFunc func(w http.ResponseWriter, r *http.Request, err error)

func (f responderFunc) Error(w http.ResponseWriter, r *http.Request, err error) { f(w, r, err) }
