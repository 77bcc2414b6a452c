package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
)

var (
	hpaDesc   = (&autoscalerv1.HorizontalPodAutoscaler{}).ProtoReflect().Descriptor()
	hpaV1Desc = (&autoscalerv1.HorizontalPodAutoscalerV1{}).ProtoReflect().Descriptor()
	loadDesc  = (&metricsv1.Load{}).ProtoReflect().Descriptor()
)

// autoscalerPatchRoutes are the HorizontalPodAutoscaler paths that take a PATCH
// (autoscaling/v2, and v1 served by conversion in the autoscaler service).
var autoscalerPatchRoutes = []patchRoute{
	{"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}", hpaDesc},
	{"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}/status", hpaDesc},
	{"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers/{name}", hpaV1Desc},
}

// autoscalerResources are the resources served through the autoscaler backend.
var autoscalerResources = []groupResource{
	{"autoscaling/v2", apiResource{Name: "horizontalpodautoscalers", SingularName: "horizontalpodautoscaler", Namespaced: true, Kind: "HorizontalPodAutoscaler", Verbs: objectVerbs, ShortNames: []string{"hpa"}, Categories: []string{"all"}}},
	{"autoscaling/v2", apiResource{Name: "horizontalpodautoscalers/status", Namespaced: true, Kind: "HorizontalPodAutoscaler", Verbs: subresourceVerbs}},
	{"autoscaling/v1", apiResource{Name: "horizontalpodautoscalers", SingularName: "horizontalpodautoscaler", Namespaced: true, Kind: "HorizontalPodAutoscaler", Verbs: []string{"create", "delete", "get", "list", "patch", "update"}, ShortNames: []string{"hpa"}, Categories: []string{"all"}}},
}

// metricsPatchRoutes are the Load paths that take a PATCH (node backend).
var metricsPatchRoutes = []patchRoute{
	{"/apis/sim.podwarden.io/v1/namespaces/{namespace}/loads/{name}", loadDesc},
}

// metricsResources are the simulated loads and the metrics APIs of the node backend.
var metricsResources = []groupResource{
	{"sim.podwarden.io/v1", apiResource{Name: "loads", SingularName: "load", Namespaced: true, Kind: "Load", Verbs: []string{"create", "delete", "get", "list", "patch", "update"}}},
	{"metrics.k8s.io/v1beta1", apiResource{Name: "pods", SingularName: "", Namespaced: true, Kind: "PodMetrics", Verbs: []string{"get", "list"}}},
	{"metrics.k8s.io/v1beta1", apiResource{Name: "nodes", SingularName: "", Kind: "NodeMetrics", Verbs: []string{"get", "list"}}},
}

// registerAutoscaler registers the autoscaler backend's generated routes.
func registerAutoscaler(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
	if err := autoscalerv1.RegisterHorizontalPodAutoscalerServiceHandlerClient(ctx, mux, autoscalerv1.NewHorizontalPodAutoscalerServiceClient(conn)); err != nil {
		return fmt.Errorf("register autoscaler backend routes: %w", err)
	}
	return nil
}

// registerMetrics registers the node backend's Load and metrics routes.
func registerMetrics(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
	err := errors.Join(
		metricsv1.RegisterLoadServiceHandlerClient(ctx, mux, metricsv1.NewLoadServiceClient(conn)),
		metricsv1.RegisterMetricsServiceHandlerClient(ctx, mux, metricsv1.NewMetricsServiceClient(conn)),
	)
	if err != nil {
		return fmt.Errorf("register metrics routes: %w", err)
	}
	return nil
}

func init() { printers["HorizontalPodAutoscaler"] = hpaPrinter }

// hpaPrinter is kubectl's `get hpa` columns.
var hpaPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Reference", "string", 0), col("Targets", "string", 0), col("MinPods", "string", 0),
		col("MaxPods", "integer", 0), col("Replicas", "integer", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		spec, st := obj(o, "spec"), obj(o, "status")
		ref := obj(spec, "scaleTargetRef")
		minPods := "<unset>"
		if _, ok := spec["minReplicas"]; ok {
			minPods = fmt.Sprint(integer(spec, "minReplicas"))
		}
		return []any{name(o), str2(ref, "kind") + "/" + str2(ref, "name"), hpaTargets(spec, st), minPods,
			integer(spec, "maxReplicas"), integer(st, "currentReplicas"), age(o, now)}
	},
}

// hpaTargets is kubectl's TARGETS column: "cpu: 60%/10%" per metric (v2), or the
// v1 cpu target; "<unknown>" for a metric not read yet.
func hpaTargets(spec, st map[string]any) string {
	if _, ok := spec["targetCPUUtilizationPercentage"]; ok {
		cur := "<unknown>"
		if _, ok := st["currentCPUUtilizationPercentage"]; ok {
			cur = fmt.Sprintf("%d%%", integer(st, "currentCPUUtilizationPercentage"))
		}
		return fmt.Sprintf("cpu: %s/%d%%", cur, integer(spec, "targetCPUUtilizationPercentage"))
	}
	metrics, current := list(spec, "metrics"), list(st, "currentMetrics")
	if len(metrics) == 0 {
		return "<none>"
	}
	var parts []string
	for i, m := range metrics {
		if i == 2 {
			parts = append(parts, fmt.Sprintf("+ %d more...", len(metrics)-2))
			break
		}
		var cur map[string]any
		if i < len(current) {
			cur = current[i]
		}
		parts = append(parts, hpaMetric(m, cur))
	}
	return strings.Join(parts, ", ")
}

func hpaMetric(m, cur map[string]any) string {
	typ := str2(m, "type")
	src := obj(m, lowerFirstASCII(typ))
	target := obj(src, "target")
	current := obj(obj(cur, lowerFirstASCII(typ)), "current")
	value := func(key string) string {
		if v, ok := current[key]; ok {
			return fmt.Sprint(v)
		}
		return "<unknown>"
	}
	prefix := ""
	switch typ {
	case "Resource":
		prefix = str2(src, "name") + ": "
	case "ContainerResource":
		prefix = str2(src, "name") + " (" + str2(src, "container") + "): "
	default:
		prefix = str2(obj(src, "metric"), "name") + ": "
	}
	switch {
	case target["averageUtilization"] != nil:
		c := "<unknown>"
		if _, ok := current["averageUtilization"]; ok {
			c = fmt.Sprintf("%d%%", integer(current, "averageUtilization"))
		}
		return fmt.Sprintf("%s%s/%d%%", prefix, c, integer(target, "averageUtilization"))
	case target["averageValue"] != nil:
		return fmt.Sprintf("%s%s/%v (avg)", prefix, value("averageValue"), target["averageValue"])
	default:
		return fmt.Sprintf("%s%s/%v", prefix, value("value"), target["value"])
	}
}

func lowerFirstASCII(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
