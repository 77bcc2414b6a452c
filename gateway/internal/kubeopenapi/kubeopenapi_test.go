package kubeopenapi

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSchemaName(t *testing.T) {
	tests := map[string]struct {
		gvk  schema.GroupVersionKind
		want string
		ok   bool
	}{
		"apps":              {gvk: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, want: "io.k8s.api.apps.v1.StatefulSet", ok: true},
		"core":              {gvk: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, want: "io.k8s.api.core.v1.Pod", ok: true},
		"autoscaling v1":    {gvk: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler"}, want: "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler", ok: true},
		"scale subresource": {gvk: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, want: "io.k8s.api.autoscaling.v1.Scale", ok: true},
		"podwarden's own":   {gvk: schema.GroupVersionKind{Group: "sim.podwarden.io", Version: "v1", Kind: "Load"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := SchemaName(tc.gvk)
			if got != tc.want || ok != tc.ok {
				t.Errorf("SchemaName(%v) = %q, %v; want %q, %v", tc.gvk, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestDocument: a group/version's document has the served kinds' schemas and
// what they reference (PodTemplateSpec for a Deployment), not the kinds it
// does not serve, and operation ids as kube-apiserver's.
func TestDocument(t *testing.T) {
	b, ok, err := Document("apps/v1", []Resource{
		{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: []string{"create", "get", "list", "patch", "update", "delete"}},
		{Name: "deployments/scale", Namespaced: true, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: []string{"get", "patch", "update"}},
	})
	if err != nil || !ok {
		t.Fatalf("Document: %v %v", ok, err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct{ Schemas map[string]json.RawMessage }
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"io.k8s.api.apps.v1.Deployment", "io.k8s.api.apps.v1.DeploymentList", "io.k8s.api.core.v1.PodTemplateSpec", "io.k8s.api.autoscaling.v1.Scale", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"} {
		if _, ok := doc.Components.Schemas[want]; !ok {
			t.Errorf("no schema %s", want)
		}
	}
	if _, ok := doc.Components.Schemas["io.k8s.api.apps.v1.DaemonSet"]; ok {
		t.Errorf("DaemonSet, not served, is in the document")
	}
	var op struct {
		OperationID string `json:"operationId"`
	}
	_ = json.Unmarshal(doc.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"], &op)
	if op.OperationID != "patchAppsV1NamespacedDeploymentScale" {
		t.Errorf("scale patch operationId %q", op.OperationID)
	}
	_ = json.Unmarshal(doc.Paths["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"], &op)
	if op.OperationID != "createAppsV1NamespacedDeployment" {
		t.Errorf("create operationId %q", op.OperationID)
	}
	if _, ok, _ := Document("sim.podwarden.io/v1", []Resource{{Name: "loads", Kind: "Load", Verbs: []string{"get"}}}); ok {
		t.Errorf("a document for a group/version without upstream schemas")
	}
}

// TestAllModels: every kind's schema and what it references is there, in the
// form the type converter reads.
func TestAllModels(t *testing.T) {
	models, err := AllModels()
	if err != nil {
		t.Fatal(err)
	}
	spec := models["io.k8s.api.core.v1.PodSpec"]
	if spec == nil {
		t.Fatal("no PodSpec")
	}
	if got := spec.Properties["containers"].Extensions["x-kubernetes-list-map-keys"]; got == nil {
		t.Errorf("PodSpec.containers lacks x-kubernetes-list-map-keys: %v", spec.Properties["containers"].Extensions)
	}
}
