package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/podwarden/podwarden/integration/harness"
)

const dnsServicesPath = "/api/v1/namespaces/default/services"

// dnsA asks the cluster DNS for name's A records over network ("udp" or "tcp").
func dnsA(s *harness.System, network, name string) (rcode int, ips []string, err error) {
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m, _, err := c.Exchange(req, s.DNSAddr)
	if err != nil {
		return -1, nil, err
	}
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	sort.Strings(ips)
	return m.Rcode, ips, nil
}

// readyPodIPs lists the IPs of the ready, not terminating pods matching selector.
func readyPodIPs(t *testing.T, a api, selector string) []string {
	t.Helper()
	var ips []string
	for _, p := range items(a.mustGet("/api/v1/namespaces/default/pods?labelSelector=" + url.QueryEscape(selector))) {
		if path(p, "metadata", "deletionTimestamp") == nil && dsPodReady(p) && str(path(p, "status", "podIP")) != "" {
			ips = append(ips, str(path(p, "status", "podIP")))
		}
	}
	sort.Strings(ips)
	return ips
}

// dnsFollowsPods waits until, over UDP and TCP, name answers exactly the IPs
// of the ready pods matching selector (and there are want of them).
func dnsFollowsPods(t *testing.T, s *harness.System, a api, name, selector string, want int) []string {
	t.Helper()
	var ips []string
	eventually(t, 60*time.Second, fmt.Sprintf("%s answers the %d ready pods of %s", name, want, selector), func() (bool, string) {
		ips = readyPodIPs(t, a, selector)
		if len(ips) != want {
			return false, fmt.Sprintf("%d ready pods", len(ips))
		}
		for _, network := range []string{"udp", "tcp"} {
			rc, got, err := dnsA(s, network, name)
			if err != nil || rc != dns.RcodeSuccess || strings.Join(got, ",") != strings.Join(ips, ",") {
				return false, fmt.Sprintf("%s: rcode %s, %v (%v); ready pods %v", network, dns.RcodeToString[rc], got, err, ips)
			}
		}
		return true, ""
	})
	return ips
}

// TestServicesAndClusterDNS follows the StatefulSet tutorial's headless Service
// through the REST gateway and a real DNS client: the Service's name answers
// the ready pods' IPs and follows a scale-down, a pod with hostname/subdomain
// gets its own name, a ClusterIP Service answers its virtual IP, unknown names
// are NXDOMAIN and bad Services are refused naming the field.
func TestServicesAndClusterDNS(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}

	// The cluster's own Services, like kubeadm's.
	if svc := a.mustGet(dnsServicesPath + "/kubernetes"); str(path(svc, "spec", "clusterIP")) != "10.96.0.1" {
		t.Fatalf("default/kubernetes: %s", mustJSON(svc))
	}
	eventually(t, 10*time.Second, "kube-dns answers 10.96.0.10", func() (bool, string) {
		rc, ips, err := dnsA(s, "udp", "kube-dns.kube-system.svc.cluster.local")
		return err == nil && rc == dns.RcodeSuccess && fmt.Sprint(ips) == "[10.96.0.10]", fmt.Sprint(rc, ips, err)
	})

	// The headless Service of statefulset-web.yaml, as given.
	headless := a.expect(a.do(http.MethodPost, dnsServicesPath, "application/yaml", documents(readManifest(t, "statefulset-web.yaml"))[0]), http.StatusCreated, "create nginx service")
	if str(path(headless, "spec", "clusterIP")) != "None" || str(path(headless, "spec", "type")) != "ClusterIP" ||
		str(path(headless, "spec", "ipFamilyPolicy")) != "SingleStack" || num(path(asList(path(headless, "spec", "ports"))[0], "targetPort")) != 80 {
		t.Fatalf("headless service: %s", mustJSON(headless))
	}

	// Three pods from a Deployment (app=nginx, tier=deploy) behind it.
	a.expect(a.postJSON(deploymentsPath, rawJSON(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"nginx"},"spec":{"replicas":3,
"selector":{"matchLabels":{"app":"nginx","tier":"deploy"}},"template":{"metadata":{"labels":{"app":"nginx","tier":"deploy"}},
"spec":{"containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80,"name":"web"}]}]}}}}`)), http.StatusCreated, "create deployment")
	rolledOut(t, a, "nginx", 3)
	dnsFollowsPods(t, s, a, "nginx.default.svc.cluster.local", "app=nginx", 3)

	// A pod the way the StatefulSet controller makes it: hostname web-0, subdomain nginx.
	a.expect(a.postJSON("/api/v1/namespaces/default/pods", rawJSON(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","labels":{"app":"nginx"}},
"spec":{"hostname":"web-0","subdomain":"nginx","containers":[{"name":"nginx","image":"registry.k8s.io/nginx-slim:0.8","ports":[{"containerPort":80,"name":"web"}]}]}}`)),
		http.StatusCreated, "create web-0")
	dnsFollowsPods(t, s, a, "nginx.default.svc.cluster.local", "app=nginx", 4)
	web0 := a.mustGet("/api/v1/namespaces/default/pods/web-0")
	web0IP := str(path(web0, "status", "podIP"))
	for _, network := range []string{"udp", "tcp"} {
		rc, ips, err := dnsA(s, network, "web-0.nginx.default.svc.cluster.local")
		if err != nil || rc != dns.RcodeSuccess || fmt.Sprint(ips) != "["+web0IP+"]" {
			t.Fatalf("%s web-0.nginx: rcode %s %v %v, want [%s]", network, dns.RcodeToString[rc], ips, err, web0IP)
		}
	}
	ep := a.mustGet("/api/v1/namespaces/default/endpoints/nginx")
	hostnames := 0
	for _, ss := range asList(path(ep, "subsets")) {
		for _, ad := range asList(path(ss, "addresses")) {
			if str(path(ad, "hostname")) == "web-0" && str(path(ad, "ip")) == web0IP && str(path(ad, "targetRef", "name")) == "web-0" {
				hostnames++
			}
		}
	}
	if hostnames != 1 {
		t.Fatalf("endpoints without web-0's hostname: %s", mustJSON(ep))
	}

	// Scale down: the answers follow, within a second of the Endpoints.
	a.expect(a.mergePatch(deploymentsPath+"/nginx/scale", `{"spec":{"replicas":1}}`), http.StatusOK, "scale to 1")
	eventually(t, 60*time.Second, "endpoints with 2 addresses", func() (bool, string) {
		n := 0
		for _, ss := range asList(path(a.mustGet("/api/v1/namespaces/default/endpoints/nginx"), "subsets")) {
			n += len(asList(path(ss, "addresses")))
		}
		return n == 2, fmt.Sprint(n)
	})
	seen := time.Now()
	dnsFollowsPods(t, s, a, "nginx.default.svc.cluster.local", "app=nginx", 2)
	if lag := time.Since(seen); lag > time.Second {
		t.Errorf("the DNS followed the Endpoints after %v", lag)
	}

	// A ClusterIP Service answers its virtual IP.
	web := a.expect(a.postJSON(dnsServicesPath, rawJSON(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
"spec":{"selector":{"app":"nginx"},"ports":[{"name":"http","port":8080,"targetPort":"web"}]}}`)), http.StatusCreated, "create web service")
	clusterIP := str(path(web, "spec", "clusterIP"))
	if !strings.HasPrefix(clusterIP, "10.") || clusterIP == "None" {
		t.Fatalf("web service: %s", mustJSON(web))
	}
	eventually(t, 10*time.Second, "web answers its ClusterIP over UDP and TCP", func() (bool, string) {
		for _, network := range []string{"udp", "tcp"} {
			rc, ips, err := dnsA(s, network, "web.default.svc.cluster.local")
			if err != nil || rc != dns.RcodeSuccess || fmt.Sprint(ips) != "["+clusterIP+"]" {
				return false, fmt.Sprint(network, rc, ips, err)
			}
		}
		return true, ""
	})
	for _, network := range []string{"udp", "tcp"} {
		if rc, ips, err := dnsA(s, network, "nope.default.svc.cluster.local"); err != nil || rc != dns.RcodeNameError {
			t.Errorf("%s unknown name: rcode %s %v %v, want NXDOMAIN", network, dns.RcodeToString[rc], ips, err)
		}
	}

	// kubectl get svc: a Table with kubectl's columns.
	req, _ := http.NewRequest(http.MethodGet, s.GatewayURL+dnsServicesPath, nil)
	req.Header.Set("Accept", "application/json;as=Table;g=meta.k8s.io;v=v1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var table map[string]any
	err = json.NewDecoder(resp.Body).Decode(&table)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("table: %d %v", resp.StatusCode, err)
	}
	rows := map[string][]any{}
	for _, r := range asList(table["rows"]) {
		cells := asList(path(r, "cells"))
		rows[fmt.Sprint(cells[0])] = cells
	}
	if c := rows["nginx"]; len(c) < 5 || c[2] != "None" || c[4] != "80/TCP" {
		t.Errorf("table row of nginx: %v", c)
	}
	if c := rows["web"]; len(c) < 5 || c[2] != clusterIP || c[4] != "8080/TCP" {
		t.Errorf("table row of web: %v", c)
	}

	// Bad input is refused with 422 naming the field, and changes nothing.
	bad := a.expect(a.postJSON(dnsServicesPath, rawJSON(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"noports"},"spec":{"selector":{"app":"x"}}}`)),
		http.StatusUnprocessableEntity, "service without ports")
	if !strings.Contains(str(bad["message"]), "spec.ports: Required value") {
		t.Errorf("message %q", bad["message"])
	}
	taken := a.expect(a.postJSON(dnsServicesPath, rawJSON(fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"copy"},
"spec":{"clusterIP":%q,"ports":[{"port":80}]}}`, clusterIP))), http.StatusUnprocessableEntity, "taken clusterIP")
	if !strings.Contains(str(taken["message"]), "spec.clusterIPs") || !strings.Contains(str(taken["message"]), "provided IP is already allocated") {
		t.Errorf("message %q", taken["message"])
	}
	immutable := a.expect(a.mergePatch(dnsServicesPath+"/web", `{"spec":{"clusterIP":"10.96.77.77","clusterIPs":null}}`), http.StatusUnprocessableEntity, "change clusterIP")
	if !strings.Contains(str(immutable["message"]), `spec.clusterIP: Invalid value: "10.96.77.77": field is immutable`) {
		t.Errorf("message %q", immutable["message"])
	}
	for _, name := range []string{"noports", "copy"} {
		if r := a.get(dnsServicesPath + "/" + name); r.Code != http.StatusNotFound {
			t.Errorf("rejected service %s: %d", name, r.Code)
		}
	}

	// Deleting the Service takes its name out of the DNS.
	a.expect(a.do(http.MethodDelete, dnsServicesPath+"/web", "", nil), http.StatusOK, "delete web")
	eventually(t, 10*time.Second, "web gone from the DNS", func() (bool, string) {
		rc, ips, err := dnsA(s, "udp", "web.default.svc.cluster.local")
		return err == nil && rc == dns.RcodeNameError, fmt.Sprint(rc, ips, err)
	})
}
