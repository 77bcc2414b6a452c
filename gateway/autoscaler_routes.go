package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

// autoscalerBackend serves HorizontalPodAutoscalers.
var autoscalerBackend = backend{
	name:        BackendAutoscaler,
	conn:        func(b *Backends) *grpc.ClientConnInterface { return &b.Autoscaler },
	register:    (*gateway).registerAutoscaler,
	patchRoutes: autoscalerPatchRoutes,
	resources:   autoscalerResources,
	printers:    map[string]printer{"HorizontalPodAutoscaler": hpaPrinter},
}

var (
	hpaDesc   = (&autoscalerv1.HorizontalPodAutoscaler{}).ProtoReflect().Descriptor()
	hpaV1Desc = (&autoscalerv1.HorizontalPodAutoscalerV1{}).ProtoReflect().Descriptor()
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
	{"autoscaling/v1", apiResource{Name: "horizontalpodautoscalers", SingularName: "horizontalpodautoscaler", Namespaced: true, Kind: "HorizontalPodAutoscaler", Verbs: objectVerbs, ShortNames: []string{"hpa"}, Categories: []string{"all"}}},
}

// registerAutoscaler registers the autoscaler backend's generated routes.
func (g *gateway) registerAutoscaler(ctx context.Context, conn grpc.ClientConnInterface) error {
	return autoscalerv1.RegisterHorizontalPodAutoscalerServiceHandlerClient(ctx, g.mux, autoscalerv1.NewHorizontalPodAutoscalerServiceClient(conn))
}

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
