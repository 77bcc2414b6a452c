package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"

	"github.com/podwarden/podwarden/shared/apierr"
)

// deletecollectionVerb is the discovery verb of a collection that takes DELETE.
const deletecollectionVerb = "deletecollection"

// resourceVerbs are the discovery verbs of a group/version's resource (nil: not served).
func (d *discovery) resourceVerbs(group, version, resource string) []string {
	gv := version
	if group != "" {
		gv = group + "/" + version
	}
	for _, r := range d.resources[gv] {
		if r.Name == resource {
			return r.Verbs
		}
	}
	return nil
}

// deleteCollectionQuery splits a deletecollection's query into the list's
// (which objects: labelSelector, fieldSelector) and each delete's (how:
// propagationPolicy, gracePeriodSeconds, dryRun, ...).
func deleteCollectionQuery(q url.Values) (list, del url.Values) {
	list, del = url.Values{}, url.Values{}
	for k, v := range q {
		switch k {
		case "labelSelector", "fieldSelector":
			list[k] = v
		case "resourceVersion", "resourceVersionMatch", "limit", "continue", "timeoutSeconds", "watch", "allowWatchBookmarks", "sendInitialEvents":
			// list options kube-apiserver reads too; the gateway lists everything, newest
		default:
			del[k] = v
		}
	}
	return list, del
}

// deleteCollection serves DELETE on a collection (kube-apiserver's
// deletecollection: `DELETE /api/v1/namespaces/ns/pods?labelSelector=app=web`,
// client-go's DeleteCollection) for every resource whose discovery has the verb:
// it lists the collection through the gateway's own routes with the request's
// selectors, then deletes each object with the request's delete options (body and
// query: propagationPolicy, gracePeriodSeconds, dryRun, preconditions), so each
// kind's deletion semantics hold. It answers the list of the objects deleted, as
// kube-apiserver does; an object already gone is no failure, any other failure is
// answered after the rest were tried.
func (g *gateway) deleteCollection(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := parseRequestInfo(r)
		if info.verb != deletecollectionVerb || !info.isResourceRequest || info.subresource != "" {
			next.ServeHTTP(w, r)
			return
		}
		verbs := g.discovery.resourceVerbs(info.group, info.version, info.resource)
		if verbs == nil {
			next.ServeHTTP(w, r) // not served: the mux's 404
			return
		}
		if !slices.Contains(verbs, deletecollectionVerb) {
			g.writeError(w, r, apierr.MethodNotSupported(apierr.GroupResource{Group: info.group, Resource: info.resource}, "deletecollection"))
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("error reading request body: %v", err)))
			return
		}
		listQ, delQ := deleteCollectionQuery(r.URL.Query())
		list, errAnswer := g.internal(next, r, http.MethodGet, r.URL.Path, listQ, nil)
		if errAnswer != nil {
			errAnswer.copyTo(w)
			return
		}
		var items []map[string]any
		if raw, ok := list["items"].([]any); ok {
			for _, it := range raw {
				if m, ok := it.(map[string]any); ok {
					items = append(items, m)
				}
			}
		}
		deleted := make([]any, 0, len(items))
		var failure *recorded
		for _, it := range items {
			meta, _ := it["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			ns, _ := meta["namespace"].(string)
			if name == "" {
				continue
			}
			p := strings.TrimSuffix(r.URL.Path, "/") + "/" + url.PathEscape(name)
			if info.namespace == "" && ns != "" {
				p = namespacedPath(info, ns) + "/" + url.PathEscape(name) // an all-namespaces collection
			}
			obj, errAnswer := g.internal(next, r, http.MethodDelete, p, delQ, body)
			switch {
			case errAnswer == nil:
				if obj["kind"] == "Status" {
					obj = it // a Status answer: the object as listed
				}
				deleted = append(deleted, obj)
			case errAnswer.code == http.StatusNotFound:
				// gone meanwhile (or an event no service can delete)
			case failure == nil:
				failure = errAnswer
			}
		}
		if failure != nil {
			failure.copyTo(w)
			return
		}
		list["items"] = deleted
		if meta, ok := list["metadata"].(map[string]any); ok {
			delete(meta, "continue")
			delete(meta, "remainingItemCount")
		}
		g.writeValue(w, r, http.StatusOK, list)
	})
}

// namespacedPath is the collection path of info's resource in namespace ns.
func namespacedPath(info requestInfo, ns string) string {
	if info.group == "" {
		return "/api/" + info.version + "/namespaces/" + ns + "/" + info.resource
	}
	return "/apis/" + info.group + "/" + info.version + "/namespaces/" + ns + "/" + info.resource
}

// recorded is an answer of the gateway's own routes.
type recorded struct {
	code   int
	header http.Header
	body   []byte
}

func (rec *recorded) copyTo(w http.ResponseWriter) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code)
	_, _ = w.Write(rec.body)
}

// internal sends a JSON request through h on behalf of r (its context and
// credentials) and decodes a 2xx answer; any other answer is returned as it is.
func (g *gateway) internal(h http.Handler, r *http.Request, method, path string, q url.Values, body []byte) (map[string]any, *recorded) {
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = path, "", q.Encode()
	req, err := http.NewRequestWithContext(r.Context(), method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, &recorded{code: http.StatusInternalServerError, body: []byte(err.Error())}
	}
	req.Header = r.Header.Clone()
	req.Header.Set("Accept", mimeJSON)
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", mimeJSON)
	}
	req.RemoteAddr, req.Host = r.RemoteAddr, r.Host
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, &recorded{code: res.StatusCode, header: res.Header, body: out}
	}
	var obj map[string]any
	if len(out) > 0 {
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return nil, &recorded{code: http.StatusInternalServerError, body: []byte(err.Error())}
		}
	}
	return obj, nil
}
