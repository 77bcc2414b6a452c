package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/yaml"

	"github.com/podwarden/podwarden/gateway/internal/kubeopenapi"
	"github.com/podwarden/podwarden/shared/kindfuzz"
)

// TestServedKindsHaveSchemas: every kind the gateway serves in a Kubernetes
// group/version has kube-apiserver's schema in the OpenAPI data, so it is in
// /openapi/v3, explainable, and its fields are managed by structure (a kind
// added without one is managed as a schemaless CustomResource: this test names
// it). Group/versions absent from the data (podwarden's own, metrics.k8s.io)
// are skipped.
func TestServedKindsHaveSchemas(t *testing.T) {
	u := unavailable{}
	h, err := NewHandler(t.Context(), Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Backends{Deployment: u, StatefulSet: u, DaemonSet: u, Job: u, Autoscaler: u, Node: u, Core: u})
	if err != nil || h == nil {
		t.Fatal(err)
	}
	var g gateway
	for _, be := range allBackends {
		g.discovery.add(be.resources...)
	}
	g.discovery.add(coreResources...)
	for gv, rs := range g.discovery.resources {
		if _, ok, _ := kubeopenapi.Document(gv, openAPIv3Resources(rs)); !ok {
			continue // no upstream schema of this group/version at all
		}
		group, version, found := strings.Cut(gv, "/")
		if !found {
			group, version = "", gv
		}
		for _, r := range rs {
			if strings.HasSuffix(r.Kind, "Options") {
				continue // a connect subresource's options (PodExecOptions, ...): nothing is applied to it
			}
			gvk := schema.GroupVersionKind{Group: group, Version: version, Kind: r.Kind}
			if r.Version != "" {
				gvk.Group, gvk.Version = r.Group, r.Version
			}
			if _, ok := kubeopenapi.SchemaName(gvk); !ok {
				t.Errorf("%s %s: no upstream schema of %v", gv, r.Name, gvk)
			}
		}
	}
}

// TestManifestsFitSchemas: every valid reference manifest converts to its
// kind's structured schema (strictly: no undeclared field), what the field
// manager works on.
func TestManifestsFitSchemas(t *testing.T) {
	models, err := kubeopenapi.AllModels()
	if err != nil {
		t.Fatal(err)
	}
	strict, err := managedfields.NewTypeConverter(models, false)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range kindfuzz.Docs() {
		if d.Invalid {
			continue
		}
		j, err := yaml.YAMLToJSON(d.Data)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := toUnstructured(j)
		if err != nil {
			t.Fatal(err)
		}
		gvk := obj.GroupVersionKind()
		if _, ok := kubeopenapi.SchemaName(gvk); !ok {
			continue
		}
		n++
		if _, err := strict.ObjectToTyped(obj); err != nil {
			t.Errorf("%s: %v", d.Name, err)
		}
	}
	if n == 0 {
		t.Fatal("no manifest checked")
	}
}

// TestFieldManagerWiring drives the field manager directly: an apply owns the
// fields it sets but never a status (reset for kinds with a status
// subresource; the backend keeps the stored status), and a second manager's conflicting apply is a 409 StatusError.
func TestFieldManagerWiring(t *testing.T) {
	gvk := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	fms := fieldManagers{statusKinds: map[schema.GroupVersionKind]bool{gvk: true}}
	fm, err := fms.get(gvk, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(replicas int) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "namespace": "default"},
			"spec":     map[string]any{"replicas": int64(replicas)},
			"status":   map[string]any{"replicas": int64(9)},
		}}
		return u
	}
	live, _ := unstructuredCreater{}.New(gvk)
	out, err := fm.Apply(live, cfg(2), "kubectl", false)
	if err != nil {
		t.Fatal(err)
	}
	obj := out.(*unstructured.Unstructured)
	mf, _ := json.Marshal(obj.GetManagedFields())
	if !strings.Contains(string(mf), `"f:replicas"`) || strings.Contains(string(mf), `"f:status"`) {
		t.Errorf("managed fields %s: want spec.replicas owned, status not", mf)
	}
	_, err = fm.Apply(obj, cfg(3), "ci", false)
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "kubectl": .spec.replicas`) {
		t.Fatalf("conflicting apply: %v", err)
	}
	if _, err := fm.Apply(obj, cfg(3), "ci", true); err != nil {
		t.Fatalf("forced apply: %v", err)
	}
}
