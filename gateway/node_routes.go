package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// nodeBackend is the node service: Nodes and Pods (with their logs), Services
// and Endpoints, the simulated Loads and the metrics APIs.
var nodeBackend = backend{
	name:        BackendNode,
	conn:        func(b *Backends) *grpc.ClientConnInterface { return &b.Node },
	register:    (*gateway).registerNode,
	patchRoutes: slices.Concat(nodePatchRoutes, metricsPatchRoutes, servicePatchRoutes, quotaPatchRoutes),
	resources:   slices.Concat(nodeResources, metricsResources, serviceResources, podLogResources, streamResources, quotaResources),
	printers: map[string]printer{
		"Pod":           podPrinter,
		"Node":          nodePrinter,
		"Service":       servicePrinter,
		"Endpoints":     endpointsPrinter,
		"ResourceQuota": resourceQuotaPrinter,
		"LimitRange":    limitRangePrinter,
	},
}

var (
	nodeDesc      = (&nodev1.Node{}).ProtoReflect().Descriptor()
	podDesc       = (&corev1.Pod{}).ProtoReflect().Descriptor()
	serviceDesc   = (&nodev1.Service{}).ProtoReflect().Descriptor()
	endpointsDesc = (&nodev1.Endpoints{}).ProtoReflect().Descriptor()
	loadDesc      = (&metricsv1.Load{}).ProtoReflect().Descriptor()
)

// nodePatchRoutes are the Node and Pod paths that take a PATCH.
var nodePatchRoutes = []patchRoute{
	{"/api/v1/nodes/{name}", nodeDesc},
	{"/api/v1/namespaces/{namespace}/pods/{name}", podDesc},
	{"/api/v1/namespaces/{namespace}/pods/{name}/status", podDesc},
}

// nodeResources are Nodes and Pods.
var nodeResources = []groupResource{
	{"v1", apiResource{Name: "nodes", SingularName: "node", Kind: "Node", Verbs: objectVerbs, ShortNames: []string{"no"}}},
	{"v1", apiResource{Name: "nodes/status", Kind: "Node", Verbs: []string{"get"}}},
	{"v1", apiResource{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: objectVerbs, ShortNames: []string{"po"}, Categories: []string{"all"}}},
	{"v1", apiResource{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: subresourceVerbs}},
}

// metricsPatchRoutes are the Load paths that take a PATCH.
var metricsPatchRoutes = []patchRoute{
	{"/apis/sim.podwarden.io/v1/namespaces/{namespace}/loads/{name}", loadDesc},
}

// metricsResources are the simulated loads and the metrics APIs.
var metricsResources = []groupResource{
	{"sim.podwarden.io/v1", apiResource{Name: "loads", SingularName: "load", Namespaced: true, Kind: "Load", Verbs: []string{"create", "delete", "deletecollection", "get", "list", "patch", "update"}}},
	{"metrics.k8s.io/v1beta1", apiResource{Name: "pods", SingularName: "", Namespaced: true, Kind: "PodMetrics", Verbs: []string{"get", "list"}}},
	{"metrics.k8s.io/v1beta1", apiResource{Name: "nodes", SingularName: "", Kind: "NodeMetrics", Verbs: []string{"get", "list"}}},
}

// servicePatchRoutes are the Service and Endpoints paths that take a PATCH.
var servicePatchRoutes = []patchRoute{
	{"/api/v1/namespaces/{namespace}/services/{name}", serviceDesc},
	{"/api/v1/namespaces/{namespace}/services/{name}/status", serviceDesc},
	{"/api/v1/namespaces/{namespace}/endpoints/{name}", endpointsDesc},
}

// serviceResources are Services and Endpoints.
var serviceResources = []groupResource{
	{"v1", apiResource{Name: "services", SingularName: "service", Namespaced: true, Kind: "Service", Verbs: objectVerbs, ShortNames: []string{"svc"}, Categories: []string{"all"}}},
	{"v1", apiResource{Name: "services/status", Namespaced: true, Kind: "Service", Verbs: subresourceVerbs}},
	{"v1", apiResource{Name: "endpoints", SingularName: "endpoints", Namespaced: true, Kind: "Endpoints", Verbs: objectVerbs, ShortNames: []string{"ep"}}},
}

// podLogResources is the pod log subresource (served by hand, registerPodLog).
var podLogResources = []groupResource{
	{"v1", apiResource{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}}},
}

// registerNode registers the node backend's generated routes and the pod log.
func (g *gateway) registerNode(ctx context.Context, conn grpc.ClientConnInterface) error {
	return errors.Join(
		nodev1.RegisterNodeServiceHandlerClient(ctx, g.mux, nodev1.NewNodeServiceClient(conn)),
		nodev1.RegisterPodServiceHandlerClient(ctx, g.mux, nodev1.NewPodServiceClient(conn)),
		metricsv1.RegisterLoadServiceHandlerClient(ctx, g.mux, metricsv1.NewLoadServiceClient(conn)),
		metricsv1.RegisterMetricsServiceHandlerClient(ctx, g.mux, metricsv1.NewMetricsServiceClient(conn)),
		nodev1.RegisterServiceServiceHandlerClient(ctx, g.mux, nodev1.NewServiceServiceClient(conn)),
		nodev1.RegisterEndpointsServiceHandlerClient(ctx, g.mux, nodev1.NewEndpointsServiceClient(conn)),
		corev1.RegisterResourceQuotaServiceHandlerClient(ctx, g.mux, corev1.NewResourceQuotaServiceClient(conn)),
		corev1.RegisterLimitRangeServiceHandlerClient(ctx, g.mux, corev1.NewLimitRangeServiceClient(conn)),
		g.registerPodLog(conn),
	)
}

// registerPodLog serves GET /api/v1/namespaces/{ns}/pods/{name}/log (`kubectl
// logs`) as text/plain from the node backend's PodLogService, with container,
// tailLines, previous, follow (streamed, flushed per chunk) and timestamps.
func (g *gateway) registerPodLog(conn grpc.ClientConnInterface) error {
	client := nodev1.NewPodLogServiceClient(conn)
	h := func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		q := r.URL.Query()
		req := &nodev1.GetPodLogRequest{Namespace: params["namespace"], Name: params["name"], Container: q.Get("container"),
			Previous: isTrue(q.Get("previous")), Follow: isTrue(q.Get("follow")), Timestamps: isTrue(q.Get("timestamps"))}
		if v := q.Get("tailLines"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				g.writeStatus(w, r, g.outbound(r), failureStatus(http.StatusBadRequest, "BadRequest", fmt.Sprintf("tailLines: invalid value %q: must be an integer", v)))
				return
			}
			req.TailLines = &n
		}
		stream, err := client.GetPodLog(r.Context(), req)
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		first, err := stream.Recv()
		if err != nil && !errors.Is(err, io.EOF) {
			g.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for msg := first; msg != nil; {
			if _, err := io.WriteString(w, msg.GetContent()); err != nil {
				return
			}
			_ = rc.Flush()
			if msg, err = stream.Recv(); err != nil {
				return
			}
		}
	}
	if err := g.mux.HandlePath(http.MethodGet, "/api/v1/namespaces/{namespace}/pods/{name}/log", h); err != nil {
		return fmt.Errorf("register pod log route: %w", err)
	}
	return nil
}

// podPrinter is kubectl's Pod columns.
var podPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Ready", "string", 0), col("Status", "string", 0), col("Restarts", "string", 0), col("Age", "string", 0),
		col("IP", "string", 1), col("Node", "string", 1), col("Nominated Node", "string", 1), col("Readiness Gates", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		ready, status, restarts := podReadyStatus(o)
		return []any{name(o), fmt.Sprintf("%d/%d", ready, len(list(obj(o, "spec"), "containers"))), status, fmt.Sprint(restarts), age(o, now),
			orNone(str2(obj(o, "status"), "podIP")), orNone(str2(obj(o, "spec"), "nodeName")), "<none>", "<none>"}
	},
}

// nodePrinter is kubectl's Node columns.
var nodePrinter = printer{
	columns: []column{col("Name", "string", 0), col("Status", "string", 0), col("Roles", "string", 0), col("Age", "string", 0), col("Version", "string", 0),
		col("Internal-IP", "string", 1), col("External-IP", "string", 1), col("OS-Image", "string", 1), col("Kernel-Version", "string", 1),
		col("Container-Runtime", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		status := "Unknown"
		for _, c := range list(obj(o, "status"), "conditions") {
			if c["type"] == "Ready" {
				status = map[bool]string{true: "Ready", false: "NotReady"}[c["status"] == "True"]
			}
		}
		if obj(o, "spec")["unschedulable"] == true {
			status += ",SchedulingDisabled"
		}
		var roles []string
		for k := range obj(obj(o, "metadata"), "labels") {
			if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
				roles = append(roles, r)
			}
		}
		sort.Strings(roles)
		internalIP, externalIP := "<none>", "<none>"
		for _, a := range list(obj(o, "status"), "addresses") {
			switch a["type"] {
			case "InternalIP":
				internalIP = fmt.Sprint(a["address"])
			case "ExternalIP":
				externalIP = fmt.Sprint(a["address"])
			}
		}
		info := obj(obj(o, "status"), "nodeInfo")
		return []any{name(o), status, orNone(strings.Join(roles, ",")), age(o, now), orNone(str2(info, "kubeletVersion")), internalIP, externalIP,
			orUnknown(str2(info, "osImage")), orUnknown(str2(info, "kernelVersion")), orUnknown(str2(info, "containerRuntimeVersion"))}
	},
}

// orUnknown is kubectl's "<unknown>" for an empty node info field.
func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// podReadyStatus is kubectl's READY (ready containers), STATUS and RESTARTS
// columns (printPod): a container counts as ready only while it is running, so a
// Terminating pod whose containers have stopped shows 0/1; the status is the
// phase, or the reason the first container waits or stopped, or Terminating
// while a deleted pod is not yet terminal.
func podReadyStatus(o map[string]any) (ready int, status string, restarts int) {
	st := obj(o, "status")
	phase := str2(st, "phase")
	status = phase
	if r := str2(st, "reason"); r != "" {
		status = r
	}
	for _, c := range list(st, "conditions") {
		if c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated" {
			status = "SchedulingGated"
		}
	}
	statuses := list(st, "containerStatuses")
	hasRunning := false
	for i := len(statuses) - 1; i >= 0; i-- {
		cs := statuses[i]
		restarts += integer(cs, "restartCount")
		state := obj(cs, "state")
		waiting, terminated := obj(state, "waiting"), obj(state, "terminated")
		switch {
		case str2(waiting, "reason") != "":
			status = str2(waiting, "reason")
		case str2(terminated, "reason") != "":
			status = str2(terminated, "reason")
		case terminated != nil && integer(terminated, "signal") != 0:
			status = fmt.Sprintf("Signal:%d", integer(terminated, "signal"))
		case terminated != nil:
			status = fmt.Sprintf("ExitCode:%d", integer(terminated, "exitCode"))
		case cs["ready"] == true && state["running"] != nil:
			hasRunning = true
			ready++
		}
	}
	if status == "Completed" && hasRunning {
		status = "NotReady"
		for _, c := range list(st, "conditions") {
			if c["type"] == "Ready" && c["status"] == "True" {
				status = "Running"
			}
		}
	}
	deleted := obj(o, "metadata")["deletionTimestamp"] != nil
	switch {
	case deleted && str2(st, "reason") == "NodeLost":
		status = "Unknown"
	case deleted && phase != "Succeeded" && phase != "Failed":
		status = "Terminating"
	}
	return ready, status, restarts
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
