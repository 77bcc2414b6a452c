package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// requestInfo is what kube-apiserver's RequestInfoFactory reads from a request's
// path and method (k8s.io/apiserver/pkg/endpoints/request), for the request metrics.
type requestInfo struct {
	isResourceRequest bool
	path              string
	// verb is Kubernetes' lowercase verb: get, list, watch, create, update, patch,
	// delete, deletecollection ("" for an unknown method).
	verb                                             string
	group, version, namespace, resource, subresource string
	name                                             string
}

// namespaceSubresources are the subresources of a namespace itself
// (/api/v1/namespaces/{name}/status).
var namespaceSubresources = []string{"status", "finalize"}

// parseRequestInfo reads r as kube-apiserver's NewRequestInfo does: /api/{version}/...
// and /apis/{group}/{version}/... are resource requests (the legacy /watch/ prefix
// sets the verb), everything else is a non-resource request with the method as verb.
func parseRequestInfo(r *http.Request) requestInfo {
	info := requestInfo{path: r.URL.Path, verb: strings.ToLower(r.Method)}
	parts := splitPath(r.URL.Path)
	if len(parts) < 3 || (parts[0] != "api" && parts[0] != "apis") {
		return info
	}
	prefix := parts[0]
	parts = parts[1:]
	if prefix == "apis" {
		if len(parts) < 3 {
			return info
		}
		info.group = parts[0]
		parts = parts[1:]
	}
	info.isResourceRequest = true
	info.version = parts[0]
	parts = parts[1:]
	if parts[0] == "watch" {
		if len(parts) < 2 {
			return info
		}
		info.verb = "watch"
		parts = parts[1:]
	} else {
		switch r.Method {
		case http.MethodPost:
			info.verb = "create"
		case http.MethodGet, http.MethodHead:
			info.verb = "get"
		case http.MethodPut:
			info.verb = "update"
		case http.MethodPatch:
			info.verb = "patch"
		case http.MethodDelete:
			info.verb = "delete"
		default:
			info.verb = ""
		}
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.namespace = parts[1]
		if len(parts) > 2 && !slices.Contains(namespaceSubresources, parts[2]) {
			parts = parts[2:]
		}
	}
	if len(parts) >= 3 {
		info.subresource = parts[2]
	}
	if len(parts) >= 2 {
		info.name = parts[1]
	}
	info.resource = parts[0]
	if info.name == "" && info.verb == "get" {
		info.verb = "list"
		if isTrue(r.URL.Query().Get("watch")) {
			info.verb = "watch"
		}
		if name, ok := exactFieldMatch(r.URL.Query().Get("fieldSelector"), "metadata.name"); ok {
			info.name = name
		}
	}
	if info.name == "" && info.verb == "delete" {
		info.verb = "deletecollection"
	}
	return info
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// exactFieldMatch finds field=value (or field==value) in a field selector.
func exactFieldMatch(selector, field string) (string, bool) {
	for _, term := range strings.Split(selector, ",") {
		k, v, ok := strings.Cut(term, "=")
		if !ok || strings.TrimSpace(k) != field {
			continue // field!=value ends its key with "!"
		}
		v = strings.TrimSpace(strings.TrimPrefix(v, "="))
		return v, v != ""
	}
	return "", false
}

// metricsScope is kube-apiserver's CleanScope: resource (a named object, or a
// create), namespace, cluster, or "" for a non-resource request.
func (info requestInfo) metricsScope() string {
	switch {
	case info.name != "" || info.verb == "create":
		return "resource"
	case info.namespace != "":
		return "namespace"
	case info.isResourceRequest:
		return "cluster"
	}
	return ""
}

// connectSubresources are reported with the verb CONNECT (and are long-running).
var connectSubresources = []string{"log", "exec", "portforward", "attach", "proxy"}

// metricsVerbs are the verbs the request metrics report; others become "other".
var metricsVerbs = []string{"APPLY", "CONNECT", "CREATE", "DELETE", "DELETECOLLECTION", "GET", "LIST", "PATCH", "POST",
	"PROXY", "PUT", "UPDATE", "WATCH", "WATCHLIST"}

// metricsVerb is the verb label of apiserver_request_total as kube-apiserver
// reports it (MonitorRequest): the HTTP method, GET on a collection as LIST, a
// watch (?watch=true or the /watch/ prefix) as WATCH, an apply patch as APPLY,
// log/exec/attach/portforward/proxy as CONNECT.
func (info requestInfo) metricsVerb(r *http.Request) string {
	verb := strings.ToUpper(r.Method)
	if verb == http.MethodHead {
		verb = http.MethodGet
	}
	if scope := info.metricsScope(); verb == http.MethodGet && scope != "resource" && scope != "" {
		verb = "LIST"
	}
	if info.verb == "watch" {
		return "WATCH"
	}
	if r.Method == http.MethodGet && isTrue(r.URL.Query().Get("watch")) {
		verb = "WATCH"
	}
	if verb == http.MethodPatch && mediaType(r.Header.Get("Content-Type")) == "application/apply-patch+yaml" {
		verb = "APPLY"
	}
	if info.isResourceRequest && slices.Contains(connectSubresources, info.subresource) {
		verb = "CONNECT"
	}
	if !slices.Contains(metricsVerbs, verb) {
		return "other"
	}
	return verb
}

func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// dryRunLabel is kube-apiserver's dry_run label: the sorted, distinct dryRun values.
func dryRunLabel(u *url.URL) string {
	if !strings.Contains(u.RawQuery, "dryRun") {
		return ""
	}
	values := u.Query()["dryRun"]
	slices.Sort(values)
	return strings.Join(slices.Compact(values), ",")
}
