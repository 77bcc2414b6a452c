package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/podwarden/podwarden/shared/metrics"
)

func TestRequestMetricLabels(t *testing.T) {
	known := func(group, version, resource string) bool {
		return (group == "apps" && version == "v1" && resource == "deployments") ||
			(group == "" && version == "v1" && (resource == "pods" || resource == "namespaces"))
	}
	m := newRequestMetrics(known)
	for name, tc := range map[string]struct {
		method, target, contentType string
		want                        requestLabels
	}{
		"get":              {method: "GET", target: "/apis/apps/v1/namespaces/default/deployments/web", want: requestLabels{verb: "GET", group: "apps", version: "v1", resource: "deployments", scope: "resource"}},
		"list namespace":   {method: "GET", target: "/apis/apps/v1/namespaces/default/deployments", want: requestLabels{verb: "LIST", group: "apps", version: "v1", resource: "deployments", scope: "namespace"}},
		"list cluster":     {method: "GET", target: "/api/v1/pods?labelSelector=app%3Dweb", want: requestLabels{verb: "LIST", version: "v1", resource: "pods", scope: "cluster"}},
		"watch query":      {method: "GET", target: "/api/v1/namespaces/default/pods?watch=true", want: requestLabels{verb: "WATCH", version: "v1", resource: "pods", scope: "namespace"}},
		"watch one":        {method: "GET", target: "/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name%3Dweb-1", want: requestLabels{verb: "WATCH", version: "v1", resource: "pods", scope: "resource"}},
		"watch prefix":     {method: "GET", target: "/apis/apps/v1/watch/namespaces/default/deployments", want: requestLabels{verb: "WATCH", group: "apps", version: "v1", resource: "deployments", scope: "namespace"}},
		"create":           {method: "POST", target: "/apis/apps/v1/namespaces/default/deployments", want: requestLabels{verb: "POST", group: "apps", version: "v1", resource: "deployments", scope: "resource"}},
		"dry-run create":   {method: "POST", target: "/apis/apps/v1/namespaces/default/deployments?dryRun=All", want: requestLabels{verb: "POST", dryRun: "All", group: "apps", version: "v1", resource: "deployments", scope: "resource"}},
		"update":           {method: "PUT", target: "/apis/apps/v1/namespaces/default/deployments/web", want: requestLabels{verb: "PUT", group: "apps", version: "v1", resource: "deployments", scope: "resource"}},
		"scale patch":      {method: "PATCH", target: "/apis/apps/v1/namespaces/default/deployments/web/scale", contentType: "application/merge-patch+json", want: requestLabels{verb: "PATCH", group: "apps", version: "v1", resource: "deployments", subresource: "scale", scope: "resource"}},
		"apply":            {method: "PATCH", target: "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=kubectl", contentType: "application/apply-patch+yaml", want: requestLabels{verb: "APPLY", group: "apps", version: "v1", resource: "deployments", scope: "resource"}},
		"delete":           {method: "DELETE", target: "/apis/apps/v1/namespaces/default/deployments/web", want: requestLabels{verb: "DELETE", group: "apps", version: "v1", resource: "deployments", scope: "resource"}},
		"delete all":       {method: "DELETE", target: "/api/v1/namespaces/default/pods", want: requestLabels{verb: "DELETE", version: "v1", resource: "pods", scope: "namespace"}},
		"logs":             {method: "GET", target: "/api/v1/namespaces/default/pods/web-1/log?follow=true", want: requestLabels{verb: "CONNECT", version: "v1", resource: "pods", subresource: "log", scope: "resource"}},
		"namespace":        {method: "GET", target: "/api/v1/namespaces/default", want: requestLabels{verb: "GET", version: "v1", resource: "namespaces", scope: "resource"}},
		"odd subresource":  {method: "GET", target: "/api/v1/namespaces/default/pods/web-1/x9f3", want: requestLabels{verb: "GET", version: "v1", resource: "pods", subresource: "other", scope: "resource"}},
		"unknown resource": {method: "GET", target: "/apis/apps/v1/namespaces/default/widgets", want: requestLabels{verb: "LIST", subresource: "other"}},
		"healthz":          {method: "GET", target: "/healthz", want: requestLabels{verb: "GET", subresource: "/healthz"}},
		"discovery":        {method: "GET", target: "/apis/apps/v1", want: requestLabels{verb: "GET", subresource: "/apis/apps/v1"}},
		"unknown path":     {method: "GET", target: "/favicon.ico", want: requestLabels{verb: "GET", subresource: "other"}},
		"odd method":       {method: "OPTIONS", target: "/api/v1/pods", want: requestLabels{verb: "other", version: "v1", resource: "pods", scope: "cluster"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			if got := m.labels(r); got != tc.want {
				t.Fatalf("labels(%s %s) = %+v, want %+v", tc.method, tc.target, got, tc.want)
			}
		})
	}
}

// scrape reads the gateway's own /metrics.
func (e *testEnv) scrape(name string, labels ...string) float64 {
	e.t.Helper()
	r := e.do(http.MethodGet, "/metrics", "")
	r.wantCode(e.t, http.StatusOK)
	g, err := metrics.ParseText(bytes.NewReader(r.body))
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := metrics.Value(g, name, labels...)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func TestRequestCounterMovesOnRequests(t *testing.T) {
	e := newEnv(t)
	created := []string{"apiserver_request_total", "verb", "POST", "group", "apps", "resource", "deployments", "code", "201"}
	notFound := []string{"apiserver_request_total", "verb", "GET", "resource", "deployments", "scope", "resource", "code", "404"}
	if got := e.scrape(created[0], created[1:]...); got != 0 {
		t.Fatalf("before any request: %v", got)
	}
	e.createNginx()
	e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/missing", "").wantCode(t, http.StatusNotFound)
	if got := e.scrape(created[0], created[1:]...); got != 1 {
		t.Fatalf("apiserver_request_total{verb=POST,code=201} = %v, want 1", got)
	}
	if got := e.scrape(notFound[0], notFound[1:]...); got != 1 {
		t.Fatalf("apiserver_request_total{verb=GET,code=404} = %v, want 1", got)
	}
	if got := e.scrape("apiserver_request_duration_seconds", "verb", "POST", "resource", "deployments"); got != 1 {
		t.Fatalf("apiserver_request_duration_seconds count for the create = %v, want 1", got)
	}
	// The scrapes count themselves as non-resource requests.
	if got := e.scrape("apiserver_request_total", "verb", "GET", "subresource", "/metrics", "code", "200"); got < 4 {
		t.Fatalf("scrapes counted %v times, want at least 4", got)
	}
}

// A watch is held in apiserver_longrunning_requests while it runs, and counted
// in apiserver_request_total when it ends.
func TestWatchIsLongRunning(t *testing.T) {
	e := newEnv(t)
	watching := []string{"verb", "WATCH", "resource", "deployments", "scope", "namespace"}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/apis/apps/v1/namespaces/default/deployments?watch=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.scrape("apiserver_longrunning_requests", watching...); got != 1 {
		t.Fatalf("apiserver_longrunning_requests while watching = %v, want 1", got)
	}
	if got := e.scrape("apiserver_request_total", watching...); got != 0 {
		t.Fatalf("apiserver_request_total of an open watch = %v, want 0 until it ends", got)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for e.scrape("apiserver_longrunning_requests", watching...) != 0 || e.scrape("apiserver_request_total", watching...) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the ended watch is still long-running or not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
