package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/apierr"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// fakeServices is a map-backed ServiceService and EndpointsService: it gives
// a Service without clusterIP 10.96.0.7 and refuses a port 0.
type fakeServices struct {
	nodev1.UnimplementedServiceServiceServer
	nodev1.UnimplementedEndpointsServiceServer
	mu   sync.Mutex
	objs map[string]*nodev1.Service
	rv   int
}

func (f *fakeServices) CreateService(_ context.Context, req *nodev1.CreateServiceRequest) (*nodev1.CreateServiceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := proto.Clone(req.GetService()).(*nodev1.Service)
	for i, p := range s.GetSpec().GetPorts() {
		if p.GetPort() == 0 {
			return nil, apierr.Invalid(apierr.GroupKind{Kind: "Service"}, s.GetMetadata().GetName(), field.ErrorList{
				field.Invalid(field.NewPath("spec", "ports").Index(i).Child("port"), 0, "must be between 1 and 65535, inclusive")})
		}
	}
	if s.Spec.ClusterIp == "" {
		s.Spec.ClusterIp, s.Spec.ClusterIps = "10.96.0.7", []string{"10.96.0.7"}
	}
	f.rv++
	s.Metadata.Namespace, s.Metadata.ResourceVersion = req.GetNamespace(), fmt.Sprint(f.rv)
	s.Metadata.CreationTimestamp = nil
	f.objs[req.GetNamespace()+"/"+s.Metadata.Name] = s
	return &nodev1.CreateServiceResponse{Service: s}, nil
}

func (f *fakeServices) GetService(_ context.Context, req *nodev1.GetServiceRequest) (*nodev1.GetServiceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.objs[req.GetNamespace()+"/"+req.GetName()]
	if !ok {
		return nil, apierr.NotFound(apierr.GroupResource{Resource: "services"}, req.GetName())
	}
	return &nodev1.GetServiceResponse{Service: s}, nil
}

func (f *fakeServices) ListServices(_ context.Context, req *nodev1.ListServicesRequest) (*nodev1.ListServicesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &nodev1.ListServicesResponse{ApiVersion: "v1", Kind: "ServiceList", Metadata: &corev1.ListMeta{ResourceVersion: fmt.Sprint(f.rv)}}
	for _, s := range f.objs {
		if req.GetNamespace() == "" || req.GetNamespace() == s.Metadata.Namespace {
			out.Items = append(out.Items, s)
		}
	}
	return out, nil
}

func (f *fakeServices) UpdateService(_ context.Context, req *nodev1.UpdateServiceRequest) (*nodev1.UpdateServiceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := proto.Clone(req.GetService()).(*nodev1.Service)
	f.rv++
	s.Metadata.ResourceVersion = fmt.Sprint(f.rv)
	f.objs[req.GetNamespace()+"/"+req.GetName()] = s
	return &nodev1.UpdateServiceResponse{Service: s}, nil
}

func (f *fakeServices) GetEndpoints(_ context.Context, req *nodev1.GetEndpointsRequest) (*nodev1.GetEndpointsResponse, error) {
	node := "node-1"
	return &nodev1.GetEndpointsResponse{Endpoints: &nodev1.Endpoints{ApiVersion: "v1", Kind: "Endpoints",
		Metadata: &corev1.ObjectMeta{Name: req.GetName(), Namespace: req.GetNamespace()},
		Subsets: []*nodev1.EndpointSubset{{
			Addresses: []*nodev1.EndpointAddress{{Ip: "10.244.1.2", Hostname: "web-0", NodeName: &node,
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "web-0", Namespace: req.GetNamespace()}}},
			Ports: []*nodev1.EndpointPort{{Name: "web", Port: 80, Protocol: "TCP"}}}}}}, nil
}

func newServicesEnv(t *testing.T) (*testEnv, *fakeServices) {
	t.Helper()
	f := &fakeServices{objs: map[string]*nodev1.Service{}}
	conn := startBackend(t, func(s *grpc.Server) {
		nodev1.RegisterServiceServiceServer(s, f)
		nodev1.RegisterEndpointsServiceServer(s, f)
	})
	h, err := NewHandler(t.Context(), Config{Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}, Backends{Node: conn})
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, srv: newHTTPTestServer(t, h)}, f
}

const headlessYAML = `apiVersion: v1
kind: Service
metadata:
  name: nginx
  labels:
    app: nginx
spec:
  ports:
  - port: 80
    name: web
  clusterIP: None
  selector:
    app: nginx
`

func TestServiceRoutes(t *testing.T) {
	e, f := newServicesEnv(t)
	const base = "/api/v1/namespaces/default/services"

	r := e.do(http.MethodPost, base, headlessYAML, "Content-Type: application/yaml")
	r.wantCode(t, http.StatusCreated)
	if o := r.object(t); get(o, "spec", "clusterIP") != "None" || get(o, "spec", "ports", 0, "name") != "web" {
		t.Fatalf("created: %s", r.body)
	}
	if s := f.objs["default/nginx"]; s == nil || s.Spec.ClusterIp != "None" || s.Spec.Selector["app"] != "nginx" {
		t.Fatalf("backend got %v", s)
	}
	// Kubernetes' JSON names, acronyms included, on the way in and out.
	r = e.do(http.MethodPost, base, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
		"spec":{"externalIPs":["192.0.2.1"],"ports":[{"port":8080,"targetPort":"web"}]}}`, "Content-Type: application/json")
	r.wantCode(t, http.StatusCreated)
	if o := r.object(t); get(o, "spec", "clusterIPs", 0) != "10.96.0.7" || get(o, "spec", "externalIPs", 0) != "192.0.2.1" ||
		get(o, "spec", "ports", 0, "targetPort") != "web" {
		t.Fatalf("created: %s", r.body)
	}
	// Bad input: 422 naming the field.
	r = e.do(http.MethodPost, base, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"bad"},"spec":{"ports":[{"port":0}]}}`, "Content-Type: application/json")
	if s := r.wantStatus(t, http.StatusUnprocessableEntity, "Invalid"); get(s, "details", "causes", 0, "field") != "spec.ports[0].port" {
		t.Fatalf("invalid: %s", r.body)
	}
	e.do(http.MethodGet, base+"/nginx", "").wantCode(t, http.StatusOK)
	e.do(http.MethodGet, base+"/nope", "").wantStatus(t, http.StatusNotFound, "NotFound")
	if items := get(e.do(http.MethodGet, "/api/v1/services", "").object(t), "items"); len(items.([]any)) != 2 {
		t.Fatalf("all-namespace list: %v", items)
	}
	// PATCH goes through GET and PUT.
	r = e.do(http.MethodPatch, base+"/nginx", `{"metadata":{"labels":{"tier":"db"}}}`, "Content-Type: application/merge-patch+json")
	r.wantCode(t, http.StatusOK)
	if get(r.object(t), "metadata", "labels", "tier") != "db" || f.objs["default/nginx"].Metadata.Labels["tier"] != "db" {
		t.Fatalf("patched: %s", r.body)
	}
	// kubectl get svc -o wide: a Table.
	r = e.do(http.MethodGet, base, "", "Accept: application/json;as=Table;g=meta.k8s.io;v=v1")
	r.wantCode(t, http.StatusOK)
	if tb := r.object(t); tb["kind"] != "Table" || len(tb["rows"].([]any)) != 2 || get(tb, "columnDefinitions", 4, "name") != "Port(s)" {
		t.Fatalf("table: %s", r.body)
	}
	// Endpoints.
	r = e.do(http.MethodGet, "/api/v1/namespaces/default/endpoints/nginx", "")
	r.wantCode(t, http.StatusOK)
	if o := r.object(t); get(o, "subsets", 0, "addresses", 0, "nodeName") != "node-1" || get(o, "subsets", 0, "addresses", 0, "targetRef", "kind") != "Pod" ||
		get(o, "subsets", 0, "addresses", 0, "hostname") != "web-0" {
		t.Fatalf("endpoints: %s", r.body)
	}
}

func TestServiceDiscovery(t *testing.T) {
	e, _ := newServicesEnv(t)
	r := e.do(http.MethodGet, "/api/v1", "")
	r.wantCode(t, http.StatusOK)
	found := map[string]map[string]any{}
	for _, res := range r.object(t)["resources"].([]any) {
		found[get(res, "name").(string)] = res.(map[string]any)
	}
	for name, short := range map[string]string{"services": "svc", "endpoints": "ep"} {
		res := found[name]
		if res == nil || get(res, "shortNames", 0) != short || get(res, "namespaced") != true || !slices.Contains(res["verbs"].([]any), any("watch")) {
			t.Errorf("%s in /api/v1: %v", name, res)
		}
	}
	if found["services/status"] == nil {
		t.Errorf("services/status not in /api/v1")
	}
}

func TestServiceTables(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	meta := map[string]any{"name": "x", "creationTimestamp": "2026-11-22T09:59:00Z"}
	cases := map[string]struct {
		printer printer
		obj     map[string]any
		want    []any
	}{
		"headless": {printer: servicePrinter, obj: map[string]any{"metadata": meta,
			"spec": map[string]any{"type": "ClusterIP", "clusterIPs": []any{"None"}, "selector": map[string]any{"app": "nginx"},
				"ports": []any{map[string]any{"port": float64(80), "protocol": "TCP"}}}},
			want: []any{"x", "ClusterIP", "None", "<none>", "80/TCP", "60s", "app=nginx"}},
		"node port with two ports": {printer: servicePrinter, obj: map[string]any{"metadata": meta,
			"spec": map[string]any{"type": "NodePort", "clusterIPs": []any{"10.96.1.2"},
				"ports": []any{map[string]any{"port": float64(80), "nodePort": float64(30080), "protocol": "TCP"}, map[string]any{"port": float64(53), "nodePort": float64(30053), "protocol": "UDP"}}}},
			want: []any{"x", "NodePort", "10.96.1.2", "<none>", "80:30080/TCP,53:30053/UDP", "60s", "<none>"}},
		"load balancer pending": {printer: servicePrinter, obj: map[string]any{"metadata": meta,
			"spec":   map[string]any{"type": "LoadBalancer", "clusterIPs": []any{"10.96.1.3"}, "ports": []any{map[string]any{"port": float64(443), "nodePort": float64(31443), "protocol": "TCP"}}},
			"status": map[string]any{"loadBalancer": map[string]any{}}},
			want: []any{"x", "LoadBalancer", "10.96.1.3", "<pending>", "443:31443/TCP", "60s", "<none>"}},
		"external name": {printer: servicePrinter, obj: map[string]any{"metadata": meta,
			"spec": map[string]any{"type": "ExternalName", "externalName": "www.example.com"}},
			want: []any{"x", "ExternalName", "<none>", "www.example.com", "<none>", "60s", "<none>"}},
		"endpoints": {printer: endpointsPrinter, obj: map[string]any{"metadata": meta,
			"subsets": []any{map[string]any{"addresses": []any{map[string]any{"ip": "10.244.1.2"}, map[string]any{"ip": "10.244.1.3"}, map[string]any{"ip": "10.244.2.2"}, map[string]any{"ip": "10.244.2.3"}},
				"ports": []any{map[string]any{"port": float64(80)}}}}},
			want: []any{"x", "10.244.1.2:80,10.244.1.3:80,10.244.2.2:80 + 1 more...", "60s"}},
		"endpoints without ports": {printer: endpointsPrinter, obj: map[string]any{"metadata": meta,
			"subsets": []any{map[string]any{"addresses": []any{map[string]any{"ip": "10.244.1.2"}}}}},
			want: []any{"x", "10.244.1.2", "60s"}},
		"no endpoints": {printer: endpointsPrinter, obj: map[string]any{"metadata": meta}, want: []any{"x", "<none>", "60s"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := tc.printer.cells(tc.obj, now)
			if len(got) != len(tc.want) || len(got) != len(tc.printer.columns) {
				t.Fatalf("cells %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("cell %d (%s) = %v, want %v", i, tc.printer.columns[i].Name, got[i], tc.want[i])
				}
			}
		})
	}
}
