package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/podwarden/podwarden/shared/announce"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Backends holds one gRPC connection per backend service. A nil field is a
// backend that is not deployed: its routes are not registered, /readyz does not
// wait for it, and events are not asked from it. Any grpc.ClientConnInterface
// works (a *grpc.ClientConn, or an in-process channel in tests and all-in-one).
type Backends struct {
	Deployment  grpc.ClientConnInterface
	StatefulSet grpc.ClientConnInterface
	DaemonSet   grpc.ClientConnInterface
	Job         grpc.ClientConnInterface
	Autoscaler  grpc.ClientConnInterface
	Node        grpc.ClientConnInterface
	Core        grpc.ClientConnInterface
}

// backend is what the gateway knows of one backend service, in one place: the
// backend's file (deployment_routes.go, ...) declares it, NewHandler serves
// every deployed one.
type backend struct {
	name string
	// conn is where the backend's connection is in Backends.
	conn func(*Backends) *grpc.ClientConnInterface
	// register registers its routes on g.mux: the generated ones, and any it
	// serves by hand.
	register func(g *gateway, ctx context.Context, conn grpc.ClientConnInterface) error
	// patchRoutes are its object paths that take a PATCH.
	patchRoutes []patchRoute
	// resources are its discovery entries.
	resources []groupResource
	// printers are the table printers of its kinds, by kind.
	printers map[string]printer
	// revisions, when set, reads the ControllerRevisions it stores.
	revisions func(conn grpc.ClientConnInterface) revisionSource
}

// allBackends are the backends in a fixed order: the order of /readyz's
// checks, of the merged lists' answers and of registration.
var allBackends = []*backend{&deploymentBackend, &statefulSetBackend, &daemonSetBackend, &jobBackend, &autoscalerBackend, &nodeBackend, &coreBackend}

// namedConn is a deployed backend's connection.
type namedConn struct {
	name string
	conn grpc.ClientConnInterface
}

// maxRecvMsgSize lets a list of thousands of pods through (gRPC's default is 4 MiB).
const maxRecvMsgSize = 256 << 20

// Dial creates a client connection to every backend of cfg that has an address.
// grpc.NewClient does no I/O: a backend that is down makes its requests fail
// with 503 and /readyz answer 503, it does not fail Dial. closeAll closes them.
func Dial(cfg Config) (b Backends, closeAll func() error, err error) {
	var conns []*grpc.ClientConn
	closeAll = func() error {
		var errs []error
		for _, c := range conns {
			errs = append(errs, c.Close())
		}
		return errors.Join(errs...)
	}
	slots := map[string]*grpc.ClientConnInterface{}
	for _, be := range allBackends {
		slots[be.name] = be.conn(&b)
	}
	dialOpts, err := cfg.BackendSecurity.DialOptions()
	if err != nil {
		return Backends{}, nil, fmt.Errorf("backend credentials: %w", err)
	}
	dialOpts = append(dialOpts, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)))
	for _, ba := range cfg.backendAddrs() {
		if ba.addr == "" {
			continue
		}
		conn, err := grpc.NewClient(ba.addr, dialOpts...)
		if err != nil {
			_ = closeAll()
			return Backends{}, nil, fmt.Errorf("dial %s backend %s: %w", ba.name, ba.addr, err)
		}
		conns = append(conns, conn)
		*slots[ba.name] = conn
	}
	return b, closeAll, nil
}

// gateway is the state shared by the hand-written handlers.
type gateway struct {
	cfg       Config
	log       *slog.Logger
	mux       *runtime.ServeMux
	backends  []namedConn
	json      *jsonMarshaler
	yaml      *yamlMarshaler
	discovery discovery
	openAPIv3 openAPIv3Docs
	// fieldManagers record managedFields and serve server-side apply (apply.go).
	fieldManagers fieldManagers
	// schemas are the body messages of the writable resources, by
	// group/version/resource[/subresource] (fieldvalidation.go).
	schemas map[string]protoreflect.MessageDescriptor
	// started is when the handler was built: the APIServices' creation time.
	started time.Time
	// namespaceClient reads namespaces for the NamespaceLifecycle admission (nil:
	// no core service deployed).
	namespaceClient corev1.NamespaceServiceClient
	// serviceAccountClient reads ServiceAccounts for the ServiceAccount admission.
	serviceAccountClient corev1.ServiceAccountServiceClient
}

// NewHandler builds the REST surface over backends: the generated grpc-gateway
// routes plus the hand-written ones, behind request metrics and logging, panic
// recovery, authentication (when cfg has a token file or client CA; it reads the
// token file), the in-flight, watch and list limits, the body size limit and
// content negotiation. It starts nothing and does not own the connections. ctx
// bounds the registration only.
func NewHandler(ctx context.Context, cfg Config, backends Backends) (http.Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	auth, err := newAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	jm := newJSONMarshaler()
	g := &gateway{
		cfg:     cfg,
		log:     cfg.Logger,
		json:    jm,
		yaml:    &yamlMarshaler{json: jm},
		started: time.Now(),
	}
	g.mux = runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, g.json),
		runtime.WithMarshalerOption(mimeJSON, g.json),
		runtime.WithMarshalerOption(mimeYAML, g.yaml),
		runtime.WithMarshalerOption(mimeXYAML, g.yaml),
		runtime.WithErrorHandler(g.errorHandler),
		runtime.WithRoutingErrorHandler(g.routingErrorHandler),
		runtime.WithForwardResponseOption(forwardResponse),
	)

	var (
		patchRoutes []patchRoute
		revisions   []revisionSource
	)
	for _, be := range allBackends {
		conn := *be.conn(&backends)
		if conn == nil {
			continue // not deployed
		}
		g.backends = append(g.backends, namedConn{be.name, conn})
		if err := be.register(g, ctx, conn); err != nil {
			return nil, fmt.Errorf("register %s backend routes: %w", be.name, err)
		}
		patchRoutes = append(patchRoutes, be.patchRoutes...)
		g.discovery.add(be.resources...)
		if be.revisions != nil {
			revisions = append(revisions, be.revisions(conn))
		}
	}
	// ControllerRevisions are asked of their sources in name order (daemonset,
	// then statefulset), the order the merged answers have always had.
	slices.SortFunc(revisions, func(a, b revisionSource) int { return strings.Compare(a.name, b.name) })
	if err := g.registerControllerRevisions(revisions); err != nil {
		return nil, err
	}
	g.discovery.add(coreResources...)
	if err := g.registerKubectlAPIs(); err != nil {
		return nil, err
	}
	g.discovery.add(apiServiceResource)
	g.fieldManagers.statusKinds = g.discovery.statusKinds()
	g.schemas = bodySchemas(patchRoutes)

	type route struct {
		method, path string
		h            runtime.HandlerFunc
	}
	routes := []route{
		{http.MethodGet, "/healthz", g.healthz},
		{http.MethodGet, "/livez", g.healthz},
		{http.MethodGet, "/readyz", g.readyz},
		{http.MethodGet, "/version", g.version},
		{http.MethodGet, "/openapi/v2", g.openAPI},
		{http.MethodGet, "/openapi/v3", g.openAPIv3Discovery},
		{http.MethodGet, "/openapi/v3/api/v1", g.openAPIv3Document},
		{http.MethodGet, "/openapi/v3/apis/{group}/{version}", g.openAPIv3Document},
		{http.MethodGet, "/api", g.apiVersions},
		{http.MethodGet, "/api/v1", g.coreResourceList},
		{http.MethodGet, "/apis", g.apiGroupList},
		{http.MethodGet, "/apis/{group}", g.apiGroup},
		{http.MethodGet, "/apis/{group}/{version}", g.groupResourceList},
		{http.MethodGet, "/api/v1/events", g.listEvents},
		{http.MethodGet, "/api/v1/namespaces/{namespace}/events", g.listEvents},
		{http.MethodGet, "/api/v1/watch/events", g.watchEvents},
		{http.MethodGet, "/api/v1/watch/namespaces/{namespace}/events", g.watchEvents},
		{http.MethodGet, "/apis/apiregistration.k8s.io/v1/apiservices", g.listAPIServices},
		{http.MethodGet, "/apis/apiregistration.k8s.io/v1/apiservices/{name}", g.getAPIService},
	}
	for _, pr := range patchRoutes {
		routes = append(routes, route{method: http.MethodPatch, path: pr.pattern, h: g.patchHandler(pr)})
	}
	for _, rt := range routes {
		if err := g.mux.HandlePath(rt.method, rt.path, rt.h); err != nil {
			return nil, fmt.Errorf("register %s %s: %w", rt.method, rt.path, err)
		}
	}

	var h http.Handler = g.validateFields(g.manageFields(g.mux))
	h = g.namespaceLifecycle(h)
	h = g.deleteCollection(h) // lists and deletes through everything above
	h = g.watchDispatch(h)
	h = negotiate(h)
	h = g.tables(h)          // sees kubectl's Accept before negotiate rewrites it
	h = g.protobufAnswers(h) // sees the client's Accept before negotiate rewrites it
	h = g.protobufBodies(h)
	h = g.limitBody(h)
	h = g.capListLimit(cfg.MaxListItems, h)
	h = g.maxWatches(cfg.MaxWatches, h)
	if backends.Node != nil {
		h = g.podStreams(backends.Node, h) // exec, attach, port-forward, proxies: hijacked, long-running
	}
	h = g.maxInFlight(cfg.MaxRequestsInFlight, cfg.MaxMutatingRequestsInFlight, h) // after authentication: system:masters is never refused
	h = g.authenticate(auth, h)
	h = g.logRequests(h) // logs and recovers everything above
	m := newRequestMetrics(g.discovery.knownResource)
	m.guard = func(scrape http.Handler) http.Handler { return g.authenticate(auth, scrape) }
	h = m.instrument(h) // outermost: sees the code sent
	return h, nil
}

// forwardResponse runs before a response is written: it answers 201 Created to a
// create (grpc-gateway answers 200), and sends the headers of a server stream at
// once (resp is nil there), so a watch client is not left waiting for the first
// event to learn that the watch is established. A stream that ended before
// sending headers (gRPC "trailers-only": the backend refused the watch) gets
// no early 200: its error is answered as a plain Status with its own HTTP code.
func forwardResponse(ctx context.Context, w http.ResponseWriter, resp proto.Message) error {
	if resp == nil {
		if md, ok := runtime.ServerMetadataFromContext(ctx); ok && md.HeaderMD == nil {
			answerStreamErrorAsStatus(w)
			return nil
		}
		w.Header().Set("Content-Type", mimeJSON)
		w.WriteHeader(http.StatusOK)
		if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	if method, ok := runtime.RPCMethod(ctx); ok {
		if name := method[strings.LastIndex(method, "/")+1:]; strings.HasPrefix(name, "Create") {
			w.WriteHeader(http.StatusCreated)
		}
	}
	return nil
}

// Run serves the gateway on cfg.ListenAddr until ctx is done, then shuts down
// (in-flight requests get a few seconds; watches are cut).
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("gateway config: %w", err)
	}
	backends, closeConns, err := Dial(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = closeConns() }()
	handler, err := NewHandler(ctx, cfg, backends)
	if err != nil {
		return err
	}
	go warmFieldManagers() // builds the schemas (seconds of CPU) before the first write needs them
	lis, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("gateway listen: %w", err)
	}
	return Serve(ctx, cfg, lis, handler)
}

// shutdownGrace is how long in-flight requests get when the gateway stops.
const shutdownGrace = 5 * time.Second

// Serve serves handler on lis until ctx is done; it closes lis. With a TLS
// certificate in cfg it serves HTTPS (and asks for client certificates when
// cfg has a client CA).
func Serve(ctx context.Context, cfg Config, lis net.Listener, handler http.Handler) error {
	cfg = cfg.withDefaults()
	tlsConfig, err := serverTLS(cfg)
	if err != nil {
		_ = lis.Close()
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(lis, "", "") // the certificate is in TLSConfig
			return
		}
		errc <- srv.Serve(lis)
	}()
	cfg.Logger.Info("gateway listening", "addr", lis.Addr().String(), "tls", tlsConfig != nil)
	if err := announce.Addrs("addr", lis.Addr().String()); err != nil {
		cfg.Logger.Warn("announce the address", "err", err)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("gateway serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Watches never end by themselves: cut them.
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway serve: %w", err)
	}
	return nil
}
