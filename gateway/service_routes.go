package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

var (
	serviceDesc   = (&nodev1.Service{}).ProtoReflect().Descriptor()
	endpointsDesc = (&nodev1.Endpoints{}).ProtoReflect().Descriptor()
)

// servicePatchRoutes are the Service and Endpoints paths that take a PATCH (node backend).
var servicePatchRoutes = []patchRoute{
	{"/api/v1/namespaces/{namespace}/services/{name}", serviceDesc},
	{"/api/v1/namespaces/{namespace}/services/{name}/status", serviceDesc},
	{"/api/v1/namespaces/{namespace}/endpoints/{name}", endpointsDesc},
}

// serviceResources are Services and Endpoints, served by the node backend.
var serviceResources = []groupResource{
	{"v1", apiResource{Name: "services", SingularName: "service", Namespaced: true, Kind: "Service", Verbs: objectVerbs, ShortNames: []string{"svc"}, Categories: []string{"all"}}},
	{"v1", apiResource{Name: "services/status", Namespaced: true, Kind: "Service", Verbs: subresourceVerbs}},
	{"v1", apiResource{Name: "endpoints", SingularName: "endpoints", Namespaced: true, Kind: "Endpoints", Verbs: objectVerbs, ShortNames: []string{"ep"}}},
}

// registerServices registers the node backend's Service and Endpoints routes.
func registerServices(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
	err := errors.Join(
		nodev1.RegisterServiceServiceHandlerClient(ctx, mux, nodev1.NewServiceServiceClient(conn)),
		nodev1.RegisterEndpointsServiceHandlerClient(ctx, mux, nodev1.NewEndpointsServiceClient(conn)),
	)
	if err != nil {
		return fmt.Errorf("register service routes: %w", err)
	}
	return nil
}

func init() {
	printers["Service"] = servicePrinter
	printers["Endpoints"] = endpointsPrinter
}

// servicePrinter is kubectl's `get services` columns (-o wide adds SELECTOR).
var servicePrinter = printer{
	columns: []column{col("Name", "string", 0), col("Type", "string", 0), col("Cluster-IP", "string", 0), col("External-IP", "string", 0),
		col("Port(s)", "string", 0), col("Age", "string", 0), col("Selector", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		spec := obj(o, "spec")
		clusterIP := "<none>"
		if ips, _ := spec["clusterIPs"].([]any); len(ips) > 0 {
			clusterIP = fmt.Sprint(ips[0])
		}
		return []any{name(o), str2(spec, "type"), clusterIP, serviceExternalIP(spec, obj(o, "status")), orNone(servicePorts(spec)),
			age(o, now), orNone(stringMap(obj(spec, "selector")))}
	},
}

// serviceExternalIP is kubectl's EXTERNAL-IP column.
func serviceExternalIP(spec, status map[string]any) string {
	var external []string
	if l, ok := spec["externalIPs"].([]any); ok {
		for _, ip := range l {
			external = append(external, fmt.Sprint(ip))
		}
	}
	switch str2(spec, "type") {
	case "ExternalName":
		return str2(spec, "externalName")
	case "LoadBalancer":
		var lb []string
		for _, ing := range list(obj(status, "loadBalancer"), "ingress") {
			if ip := str2(ing, "ip"); ip != "" {
				lb = append(lb, ip)
			} else if h := str2(ing, "hostname"); h != "" {
				lb = append(lb, h)
			}
		}
		if all := append(lb, external...); len(all) > 0 {
			return strings.Join(all, ",")
		}
		return "<pending>"
	}
	return orNone(strings.Join(external, ","))
}

// servicePorts is kubectl's PORT(S): port/protocol, or port:nodePort/protocol.
func servicePorts(spec map[string]any) string {
	var out []string
	for _, p := range list(spec, "ports") {
		if np := integer(p, "nodePort"); np > 0 {
			out = append(out, fmt.Sprintf("%d:%d/%s", integer(p, "port"), np, str2(p, "protocol")))
		} else {
			out = append(out, fmt.Sprintf("%d/%s", integer(p, "port"), str2(p, "protocol")))
		}
	}
	return strings.Join(out, ",")
}

// stringMap renders a label map as kubectl does: k=v, sorted, comma-separated.
func stringMap(m map[string]any) string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+fmt.Sprint(v))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// endpointsPrinter is kubectl's `get endpoints` columns.
var endpointsPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Endpoints", "string", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		return []any{name(o), formatEndpoints(o), age(o, now)}
	},
}

// formatEndpoints is kubectl's ENDPOINTS column: the first three ready
// ip:port pairs, then "+ N more...".
func formatEndpoints(o map[string]any) string {
	subsets := list(o, "subsets")
	if len(subsets) == 0 {
		return "<none>"
	}
	const most = 3
	var shown []string
	count := 0
	for _, ss := range subsets {
		addrs := list(ss, "addresses")
		ports := list(ss, "ports")
		if len(ports) == 0 {
			count += len(addrs)
			for _, a := range addrs {
				if len(shown) < most {
					shown = append(shown, str2(a, "ip"))
				}
			}
			continue
		}
		for _, p := range ports {
			count += len(addrs)
			for _, a := range addrs {
				if len(shown) < most {
					shown = append(shown, net.JoinHostPort(str2(a, "ip"), fmt.Sprint(integer(p, "port"))))
				}
			}
		}
	}
	out := strings.Join(shown, ",")
	if count > most {
		return fmt.Sprintf("%s + %d more...", out, count-most)
	}
	return out
}
