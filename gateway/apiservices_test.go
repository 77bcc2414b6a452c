package gateway

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestAPIServices(t *testing.T) {
	started := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	got := apiServices([]string{"v1", "apps/v1", "autoscaling/v2", "sim.podwarden.io/v1"}, started)
	var names []string
	for _, s := range got {
		names = append(names, name(s))
	}
	if !slices.Equal(names, []string{"v1.", "v1.apps", "v1.sim.podwarden.io", "v2.autoscaling"}) {
		t.Fatalf("names %v", names)
	}
	tests := map[string]struct {
		i                   int
		group, version      string
		groupPrio, versPrio int
	}{
		"core":     {i: 0, version: "v1", groupPrio: 18000, versPrio: 1},
		"apps":     {i: 1, group: "apps", version: "v1", groupPrio: 17800, versPrio: 15},
		"own":      {i: 2, group: "sim.podwarden.io", version: "v1", groupPrio: 1000, versPrio: 100},
		"priority": {i: 3, group: "autoscaling", version: "v2", groupPrio: 17500, versPrio: 30},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := obj(got[tc.i], "spec")
			if spec["group"] != tc.group || spec["version"] != tc.version || spec["groupPriorityMinimum"] != tc.groupPrio || spec["versionPriority"] != tc.versPrio {
				t.Fatalf("spec %v", spec)
			}
			cells := apiServicePrinter.cells(got[tc.i], started.Add(time.Hour))
			if cells[1] != "Local" || cells[2] != "True" || cells[3] != "60m" {
				t.Fatalf("cells %v", cells)
			}
		})
	}
}

func TestAPIServicesServed(t *testing.T) {
	e := newEnv(t)
	l := e.do(http.MethodGet, "/apis/apiregistration.k8s.io/v1/apiservices", "")
	l.wantCode(t, http.StatusOK)
	items := l.object(t)["items"].([]any)
	var names []string
	for _, it := range items {
		names = append(names, get(it, "metadata", "name").(string))
	}
	for _, want := range []string{"v1.", "v1.apps", "v1.apiregistration.k8s.io"} {
		if !slices.Contains(names, want) {
			t.Errorf("apiservices lack %s: %v", want, names)
		}
	}
	e.do(http.MethodGet, "/apis/apiregistration.k8s.io/v1/apiservices/v1.apps", "").wantCode(t, http.StatusOK)
	e.do(http.MethodGet, "/apis/apiregistration.k8s.io/v1/apiservices/v1.batch", "").wantStatus(t, http.StatusNotFound, ReasonNotFound)
}
