package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestDeleteCollectionQuery(t *testing.T) {
	q, _ := url.ParseQuery("labelSelector=app%3Dweb&fieldSelector=metadata.name%21%3Dx&propagationPolicy=Foreground&gracePeriodSeconds=0&dryRun=All&limit=5&resourceVersion=7")
	list, del := deleteCollectionQuery(q)
	if list.Encode() != "fieldSelector=metadata.name%21%3Dx&labelSelector=app%3Dweb" {
		t.Errorf("list query %s", list.Encode())
	}
	if del.Encode() != "dryRun=All&gracePeriodSeconds=0&propagationPolicy=Foreground" {
		t.Errorf("delete query %s", del.Encode())
	}
}

// TestDeleteCollection: DELETE on a collection deletes what the list selects, each
// with the request's delete options, and answers the list of what went.
func TestDeleteCollection(t *testing.T) {
	e := newEnv(t)
	for _, ns := range []string{"default", "default", "other"} {
		name := "web-" + ns + "-" + string(rune('a'+e.deploy.count()))
		body := strings.Replace(nginxYAML, "name: nginx\n", "name: "+name+"\n", 1)
		e.do(http.MethodPost, "/apis/apps/v1/namespaces/"+ns+"/deployments", body, "Content-Type: application/yaml").wantCode(t, http.StatusCreated)
	}
	r := e.do(http.MethodDelete, "/apis/apps/v1/namespaces/default/deployments?propagationPolicy=Orphan",
		`{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0}`, "Content-Type: application/json")
	r.wantCode(t, http.StatusOK)
	o := r.object(t)
	var names []string
	for _, it := range o["items"].([]any) {
		names = append(names, get(it, "metadata", "name").(string))
	}
	if o["kind"] != "DeploymentList" || !slices.Equal(names, []string{"web-default-a", "web-default-b"}) {
		t.Errorf("answer %s", r.body)
	}
	if e.deploy.count() != 1 {
		t.Errorf("%d deployments left, want the one in other", e.deploy.count())
	}
	req := e.deploy.lastDelete()
	if req.GetPropagationPolicy() != "Orphan" || req.GetOptions().GracePeriodSeconds == nil || req.GetOptions().GetGracePeriodSeconds() != 0 {
		t.Errorf("delete options lost: %v", req)
	}
	// Across namespaces: what is left goes too.
	e.do(http.MethodDelete, "/apis/apps/v1/deployments", "").wantCode(t, http.StatusOK)
	if e.deploy.count() != 0 {
		t.Errorf("%d deployments left", e.deploy.count())
	}
	// An empty collection answers an empty list.
	if r := e.do(http.MethodDelete, "/apis/apps/v1/namespaces/default/deployments", ""); r.code != http.StatusOK || len(r.object(t)["items"].([]any)) != 0 {
		t.Errorf("empty: %d %s", r.code, r.body)
	}
}

func TestDeleteCollectionNotAllowed(t *testing.T) {
	g := &gateway{}
	g.discovery.add(groupResource{"v1", apiResource{Name: "namespaces", Kind: "Namespace", Verbs: namespaceVerbs}})
	if v := g.discovery.resourceVerbs("", "v1", "namespaces"); slices.Contains(v, deletecollectionVerb) {
		t.Errorf("namespaces take deletecollection: %v", v)
	}
	if v := g.discovery.resourceVerbs("apps", "v1", "deployments"); v != nil {
		t.Errorf("unknown resource: %v", v)
	}
}
