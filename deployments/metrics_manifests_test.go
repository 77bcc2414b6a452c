package deployments

import (
	"net"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestScrapeAnnotations: every podwarden Deployment is scraped by Prometheus'
// kubernetes_sd pod discovery, on a port its container declares, where the process
// serves /metrics (a controller service's PODWARDEN_METRICS_ADDR; the gateway's HTTP port).
func TestScrapeAnnotations(t *testing.T) {
	idx := newIndex(loadManifests(t))
	seen := 0
	for _, w := range idx.workloads {
		if _, ok := w.obj.value.(*appsv1.Deployment); !ok {
			continue
		}
		seen++
		a := w.template.Annotations
		if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("%s: pod template annotations %v: want prometheus.io/scrape \"true\" and prometheus.io/path /metrics", w.obj, a)
			continue
		}
		port, err := strconv.Atoi(a["prometheus.io/port"])
		if err != nil {
			t.Errorf("%s: prometheus.io/port %q is not a port number", w.obj, a["prometheus.io/port"])
			continue
		}
		c := w.template.Spec.Containers[0]
		declared := false
		for _, p := range c.Ports {
			declared = declared || int(p.ContainerPort) == port
		}
		if !declared {
			t.Errorf("%s: prometheus.io/port %d is not a containerPort", w.obj, port)
		}
		if w.template.Labels[labelComponent] != "controller" {
			continue
		}
		addr := ""
		for _, e := range c.Env {
			if e.Name == "PODWARDEN_METRICS_ADDR" {
				addr = e.Value
			}
		}
		if _, p, err := net.SplitHostPort(addr); err != nil || p != strconv.Itoa(port) {
			t.Errorf("%s: PODWARDEN_METRICS_ADDR %q does not listen on prometheus.io/port %d", w.obj, addr, port)
		}
	}
	if seen == 0 {
		t.Fatal("no Deployments found")
	}
}
