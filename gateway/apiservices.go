package gateway

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/podwarden/podwarden/shared/apierr"
)

// apiServiceResource is apiregistration.k8s.io/v1 APIServices, read-only: one per
// group/version the gateway serves, all local (kube-aggregator's automanaged
// APIServices), so `kubectl get apiservices` answers as on a cluster.
var apiServiceResource = groupResource{"apiregistration.k8s.io/v1", apiResource{Name: "apiservices", SingularName: "apiservice",
	Kind: "APIService", Verbs: []string{"get", "list"}, Categories: []string{"api-extensions"}}}

// apiServicePriority is kube-aggregator's priority of a built-in group/version
// (groupPriorityMinimum, versionPriority); others get a CRD's (1000, 100).
var apiServicePriority = map[string][2]int{
	"v1":                        {18000, 1},
	"apiregistration.k8s.io/v1": {18000, 15},
	"apps/v1":                   {17800, 15},
	"autoscaling/v1":            {17500, 15},
	"autoscaling/v2":            {17500, 30},
	"batch/v1":                  {17400, 15},
	"policy/v1":                 {17600, 15},
	"coordination.k8s.io/v1":    {16500, 15},
	"storage.k8s.io/v1":         {16800, 15},
	"metrics.k8s.io/v1beta1":    {100, 100},
}

// apiServiceName is "<version>.<group>" ("v1." for the core group).
func apiServiceName(gv string) string {
	group, version, ok := splitGroupVersion(gv)
	if !ok {
		return gv + "."
	}
	return version + "." + group
}

// APIServices lists the APIService of every group/version in gvs, by name, created
// (and Available) at started.
func apiServices(gvs []string, started time.Time) []map[string]any {
	ts := started.UTC().Format(time.RFC3339)
	out := make([]map[string]any, 0, len(gvs))
	for _, gv := range gvs {
		group, version, ok := splitGroupVersion(gv)
		if !ok {
			group, version = "", gv
		}
		prio, known := apiServicePriority[gv]
		if !known {
			prio = [2]int{1000, 100}
		}
		out = append(out, map[string]any{
			"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
			"metadata": map[string]any{"name": apiServiceName(gv), "creationTimestamp": ts,
				"labels": map[string]any{"kube-aggregator.kubernetes.io/automanaged": "onstart"}},
			"spec": map[string]any{"group": group, "version": version, "groupPriorityMinimum": prio[0], "versionPriority": prio[1]},
			"status": map[string]any{"conditions": []any{map[string]any{"type": "Available", "status": "True",
				"lastTransitionTime": ts, "reason": "Local", "message": "Local APIServices are always available"}}},
		})
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(name(a), name(b)) })
	return out
}

// servedGroupVersions are the group/versions discovery lists.
func (d *discovery) servedGroupVersions() []string {
	out := make([]string, 0, len(d.resources))
	for gv := range d.resources {
		out = append(out, gv)
	}
	slices.Sort(out)
	return out
}

// listAPIServices serves GET /apis/apiregistration.k8s.io/v1/apiservices.
func (g *gateway) listAPIServices(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	items := apiServices(g.discovery.servedGroupVersions(), g.started)
	g.writeValue(w, r, http.StatusOK, map[string]any{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIServiceList",
		"metadata": map[string]any{}, "items": items})
}

// getAPIService serves GET /apis/apiregistration.k8s.io/v1/apiservices/{name}.
func (g *gateway) getAPIService(w http.ResponseWriter, r *http.Request, params map[string]string) {
	for _, s := range apiServices(g.discovery.servedGroupVersions(), g.started) {
		if name(s) == params["name"] {
			g.writeValue(w, r, http.StatusOK, s)
			return
		}
	}
	g.writeError(w, r, apierr.NotFound(apierr.GroupResource{Group: "apiregistration.k8s.io", Resource: "apiservices"}, params["name"]))
}

// apiServicePrinter is kubectl's `get apiservices` columns.
var apiServicePrinter = printer{
	columns: []column{col("Name", "string", 0), col("Service", "string", 0), col("Available", "string", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		service := "Local"
		if svc := obj(obj(o, "spec"), "service"); svc != nil {
			service = str2(svc, "namespace") + "/" + str2(svc, "name")
		}
		available := "Unknown"
		for _, c := range list(obj(o, "status"), "conditions") {
			if str2(c, "type") == "Available" {
				available = str2(c, "status")
				if available != "True" {
					available += " (" + str2(c, "reason") + ")"
				}
			}
		}
		return []any{name(o), service, available, age(o, now)}
	},
}
