package gateway

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// ResourceQuotas and LimitRanges are served by the node service, with the pods
// they limit (nodeBackend lists these).
var (
	resourceQuotaDesc = (&corev1.ResourceQuota{}).ProtoReflect().Descriptor()
	limitRangeDesc    = (&corev1.LimitRange{}).ProtoReflect().Descriptor()
)

// quotaPatchRoutes are the ResourceQuota and LimitRange paths that take a PATCH.
var quotaPatchRoutes = []patchRoute{
	{"/api/v1/namespaces/{namespace}/resourcequotas/{name}", resourceQuotaDesc},
	{"/api/v1/namespaces/{namespace}/resourcequotas/{name}/status", resourceQuotaDesc},
	{"/api/v1/namespaces/{namespace}/limitranges/{name}", limitRangeDesc},
}

// quotaResources are ResourceQuotas (short name quota) and LimitRanges (limits).
var quotaResources = []groupResource{
	{"v1", apiResource{Name: "resourcequotas", SingularName: "resourcequota", Namespaced: true, Kind: "ResourceQuota", Verbs: objectVerbs, ShortNames: []string{"quota"}}},
	{"v1", apiResource{Name: "resourcequotas/status", Namespaced: true, Kind: "ResourceQuota", Verbs: subresourceVerbs}},
	{"v1", apiResource{Name: "limitranges", SingularName: "limitrange", Namespaced: true, Kind: "LimitRange", Verbs: objectVerbs, ShortNames: []string{"limits"}}},
}

// resourceQuotaPrinter is kubectl's `get resourcequotas` columns: REQUEST holds
// "name: used/hard" of every hard resource but the limits.* ones, LIMIT those.
var resourceQuotaPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Age", "string", 0), col("Request", "string", 0), col("Limit", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		st := obj(o, "status")
		hard, used := obj(st, "hard"), obj(st, "used")
		var request, limit []string
		for _, r := range slices.Sorted(maps.Keys(hard)) {
			u := "0"
			if v, ok := used[r]; ok {
				u = fmt.Sprint(v)
			}
			cell := fmt.Sprintf("%s: %s/%v", r, u, hard[r])
			if strings.HasPrefix(r, "limits.") {
				limit = append(limit, cell)
			} else {
				request = append(request, cell)
			}
		}
		return []any{name(o), age(o, now), strings.Join(request, ", "), strings.Join(limit, ", ")}
	},
}

// limitRangePrinter is kubectl's `get limitranges` columns.
var limitRangePrinter = printer{
	columns: []column{col("Name", "string", 0), col("Created At", "date", 0)},
	cells: func(o map[string]any, _ time.Time) []any {
		return []any{name(o), str2(obj(o, "metadata"), "creationTimestamp")}
	},
}
