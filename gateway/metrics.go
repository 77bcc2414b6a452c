package gateway

import (
	"bufio"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podwarden/podwarden/shared/metrics"
)

// metricsComponent is the component label, as kube-apiserver's.
const metricsComponent = "apiserver"

// requestMetrics are kube-apiserver's request families, with its names, labels
// and buckets, so its dashboards and SLO queries read the gateway unchanged.
type requestMetrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	longRunning *prometheus.GaugeVec
	// known answers whether a group/version/resource is served, so that a request
	// for an unknown one (a typo, a scan) adds no series of its own.
	known func(group, version, resource string) bool
	// guard, when set, wraps the scrape handler (authentication).
	guard func(http.Handler) http.Handler
}

func newRequestMetrics(known func(group, version, resource string) bool) *requestMetrics {
	m := &requestMetrics{
		registry: metrics.NewRegistry(),
		known:    known,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total",
			Help: "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
		}, []string{"verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "apiserver_request_duration_seconds",
			Help: "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
			Buckets: []float64{0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3,
				4, 5, 6, 8, 10, 15, 20, 30, 45, 60},
		}, []string{"verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"}),
		longRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_longrunning_requests",
			Help: "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.",
		}, []string{"verb", "group", "version", "resource", "subresource", "scope", "component"}),
	}
	m.registry.MustRegister(m.requests, m.durations, m.longRunning)
	return m
}

// nonResourcePaths are the non-resource paths reported by path (in the
// subresource label, as kube-apiserver does); other non-resource paths are "other".
var nonResourcePaths = []string{"/healthz", "/livez", "/readyz", "/version", "/openapi/v2", "/openapi/v3", "/api", "/api/v1", "/apis", "/metrics"}

// knownSubresources are the subresources the gateway serves; any other is "other".
var knownSubresources = []string{"status", "scale", "log", "eviction", "binding", "exec", "attach", "portforward", "proxy",
	"ephemeralcontainers", "resize", "history", "rollback", "rolloutstatus", "trigger", "ready", "fault"}

// labels are the series labels of a request (without code), bounded in cardinality.
type requestLabels struct {
	verb, dryRun, group, version, resource, subresource, scope string
}

func (m *requestMetrics) labels(r *http.Request) requestLabels {
	info := parseRequestInfo(r)
	l := requestLabels{verb: info.metricsVerb(r), dryRun: dryRunLabel(r.URL), scope: info.metricsScope()}
	switch {
	case info.isResourceRequest && m.known(info.group, info.version, info.resource):
		l.group, l.version, l.resource, l.subresource = info.group, info.version, info.resource, info.subresource
		if l.subresource != "" && !slices.Contains(knownSubresources, l.subresource) {
			l.subresource = "other"
		}
	case info.isResourceRequest:
		l.subresource, l.scope = "other", ""
	case slices.Contains(nonResourcePaths, r.URL.Path) || isGroupPath(r.URL.Path):
		l.subresource = r.URL.Path
	default:
		l.subresource = "other"
	}
	return l
}

// isGroupPath reports discovery paths (/apis/{group}, /apis/{group}/{version}) of
// the groups the gateway serves.
func isGroupPath(p string) bool {
	parts := splitPath(p)
	return len(parts) >= 2 && len(parts) <= 3 && parts[0] == "apis" && slices.Contains(servedGroups, parts[1])
}

// servedGroups are the API groups the gateway can serve.
var servedGroups = []string{"apps", "batch", "autoscaling", "policy", "events.k8s.io", "metrics.k8s.io"}

// instrument records every request in apiserver_request_total and
// apiserver_request_duration_seconds when it ends, and holds a long-running one
// (a watch, a log stream) in apiserver_longrunning_requests while it runs, as
// kube-apiserver does. GET /metrics is answered here, from the gateway's registry.
func (m *requestMetrics) instrument(next http.Handler) http.Handler {
	var scrape http.Handler = metrics.Handler(m.registry)
	if m.guard != nil {
		scrape = m.guard(scrape)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		l := m.labels(r)
		if l.verb == "WATCH" || l.verb == "CONNECT" {
			g := m.longRunning.WithLabelValues(l.verb, l.group, l.version, l.resource, l.subresource, l.scope, metricsComponent)
			g.Inc()
			defer g.Dec()
		}
		cw := &metricsWriter{ResponseWriter: w}
		defer func() {
			code := cw.code
			if code == 0 {
				code = http.StatusOK
			}
			m.requests.WithLabelValues(l.verb, l.dryRun, l.group, l.version, l.resource, l.subresource, l.scope, metricsComponent,
				strconv.Itoa(code)).Inc()
			m.durations.WithLabelValues(l.verb, l.dryRun, l.group, l.version, l.resource, l.subresource, l.scope, metricsComponent).
				Observe(time.Since(start).Seconds())
		}()
		if r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			scrape.ServeHTTP(cw, r)
			return
		}
		next.ServeHTTP(cw, r)
	})
}

// metricsWriter records the status code sent; it passes Flush through (watches).
type metricsWriter struct {
	http.ResponseWriter
	code int
}

func (w *metricsWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *metricsWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *metricsWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *metricsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a stream (exec, attach, port-forward): 101.
func (w *metricsWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// knownResource reports whether discovery lists group/version/resource.
func (d *discovery) knownResource(group, version, resource string) bool {
	gv := version
	if group != "" {
		gv = group + "/" + version
	}
	for _, r := range d.resources[gv] {
		if name, _, _ := strings.Cut(r.Name, "/"); name == resource {
			return true
		}
	}
	return false
}
