package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Writes to a /scale subresource record their manager on the parent object as
// kube-apiserver's scale subresources do (registry/apps/deployment/storage's
// scaleUpdatedObjectInfo, with apimachinery's managedfields.ScaleHandler): the
// parent's entries that own spec.replicas become the Scale's managed fields, the
// Scale's field manager (subresource "scale") records the write, and the result
// goes back to the parent: the writer's entry (`kubectl scale`: manager
// "kubectl", operation Update, subresource "scale") owns .spec.replicas, and the
// entries that owned it before lose it. The Scale the gateway sends the backend
// carries the parent's new entries in its metadata.managedFields, which the
// backend stores on the parent with spec.replicas.

// scaleGVK is the kind every /scale subresource serves.
var scaleGVK = schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}

// replicasPath is where every scalable kind served keeps its replicas.
var replicasPath = fieldpath.MakePathOrDie("spec", "replicas")

// recordScale returns next (a Scale a write stores) with its metadata.managedFields
// set to the parent's entries after the write, from live (the Scale as read). It
// returns next unchanged when it cannot (the write then reports a bad body itself).
func (g *gateway) recordScale(r *http.Request, live, next []byte) []byte {
	fm, err := g.fieldManagers.get(scaleGVK, "scale")
	if err != nil {
		return next
	}
	parentRes := g.inProcessAt(r.Context(), r, http.MethodGet, strings.TrimSuffix(r.URL.Path, "/scale"), nil)
	if parentRes.code != http.StatusOK {
		return next
	}
	parent, err := toUnstructured(parentRes.body)
	if err != nil {
		return next
	}
	gv, err := schema.ParseGroupVersion(parent.GetAPIVersion())
	if err != nil {
		return next
	}
	h := managedfields.NewScaleHandler(parent.GetManagedFields(), gv, managedfields.ResourcePathMappings{gv.String(): replicasPath})
	liveScale, err := toUnstructured(live)
	if err != nil {
		return next
	}
	newScale, err := toUnstructured(next)
	if err != nil {
		return next
	}
	for _, s := range []interface{ SetGroupVersionKind(schema.GroupVersionKind) }{liveScale, newScale} {
		s.SetGroupVersionKind(scaleGVK)
	}
	entries, err := h.ToSubresource()
	if err != nil {
		return next
	}
	liveScale.SetManagedFields(entries)
	if g.fieldManagers.fits(scaleGVK, newScale) != nil {
		return next
	}
	out, ok := asUnstructured(fm.UpdateNoErrors(liveScale, asDecoded(scaleGVK, newScale), managerOf(r)))
	if !ok {
		return next
	}
	parentEntries, err := h.ToParent(out.GetManagedFields())
	if err != nil {
		return next
	}
	newScale.SetManagedFields(parentEntries)
	b, err := json.Marshal(newScale.Object)
	if err != nil {
		return next
	}
	return b
}

func asUnstructured(obj runtime.Object) (*unstructured.Unstructured, bool) {
	u, ok := obj.(*unstructured.Unstructured)
	return u, ok
}
