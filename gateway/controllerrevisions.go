package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	k8scorev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	appsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/apps/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// apps/v1 ControllerRevisions are stored by two services: the daemonset service
// (a DaemonSet's template history) and the statefulset service (a StatefulSet's).
// Neither serves them over HTTP; the gateway does, by asking both, which is what
// `kubectl rollout history|undo daemonset|statefulset` reads: the revisions of
// the workload's selector that it controls, whose data it PATCHes back as a
// strategic merge patch ({"spec":{"template":{...,"$patch":"replace"}}}).
//
// Both services answer with the one podwarden.apps.v1 ControllerRevision
// message, the one the merged answers are written with.

// controllerRevisionResources is the discovery entry, added when a backend that
// stores ControllerRevisions is deployed.
var controllerRevisionResources = []groupResource{
	{"apps/v1", apiResource{Name: "controllerrevisions", SingularName: "controllerrevision", Namespaced: true, Kind: "ControllerRevision", Verbs: []string{"get", "list", "watch"}}},
}

// revisionSource is a backend that stores ControllerRevisions.
type revisionSource struct {
	name string
	// owner is the workload message whose spec.template the revisions' data
	// restores: it types the numbers inside data.
	owner protoreflect.MessageDescriptor
	// list answers the items and the list's resourceVersion (rv and match as in
	// Kubernetes' list options).
	list func(ctx context.Context, namespace, labelSelector, rv, match string) ([]*appsv1.ControllerRevision, string, error)
	// watch opens the backend's watch.
	watch func(ctx context.Context, q watchQuery) (recvFunc[*appsv1.ControllerRevision], error)
}

// revisionWatch adapts a backend's WatchControllerRevisions stream, its data made
// Kubernetes' as in the lists.
func revisionWatch[R watchResponse[*appsv1.ControllerRevision]](stream watchStream[R], err error, owner protoreflect.MessageDescriptor) (recvFunc[*appsv1.ControllerRevision], error) {
	return watchRecv(stream, err, func(typ string, cr *appsv1.ControllerRevision) {
		if typ != "BOOKMARK" {
			kubeData(cr, owner)
		}
	})
}

// registerControllerRevisions serves the ControllerRevision paths from sources,
// the deployed backends that store them (daemonset, statefulset), if any.
func (g *gateway) registerControllerRevisions(sources []revisionSource) error {
	if len(sources) == 0 {
		return nil
	}
	routes := []struct {
		path string
		h    func(http.ResponseWriter, *http.Request, map[string]string)
	}{
		{"/apis/apps/v1/controllerrevisions", g.listControllerRevisions(sources)},
		{"/apis/apps/v1/namespaces/{namespace}/controllerrevisions", g.listControllerRevisions(sources)},
		{"/apis/apps/v1/namespaces/{namespace}/controllerrevisions/{name}", g.getControllerRevision(sources)},
		{"/apis/apps/v1/watch/controllerrevisions", g.watchControllerRevisions(sources)},
		{"/apis/apps/v1/watch/namespaces/{namespace}/controllerrevisions", g.watchControllerRevisions(sources)},
	}
	for _, rt := range routes {
		if err := g.mux.HandlePath(http.MethodGet, rt.path, rt.h); err != nil {
			return fmt.Errorf("register GET %s: %w", rt.path, err)
		}
	}
	g.discovery.add(controllerRevisionResources...)
	return nil
}

// revisionsFrom asks every source in parallel. A source that fails is left out
// with a warning, as for events; err is set (the first error) only if all failed.
// failed reports whether any did.
func (g *gateway) revisionsFrom(ctx context.Context, sources []revisionSource, namespace, labelSelector string, l mergedList) (items []*appsv1.ControllerRevision, rv mergedRV, failed bool, err error) {
	type answer struct {
		items []*appsv1.ControllerRevision
		rv    string
		err   error
	}
	answers := make([]answer, len(sources))
	var wg sync.WaitGroup
	for i, s := range sources {
		wg.Go(func() {
			rv, match := l.backend(s.name)
			got, listRV, listErr := s.list(ctx, namespace, labelSelector, rv, match)
			listErr = l.expired(listErr)
			for _, cr := range got {
				kubeData(cr, s.owner)
			}
			answers[i] = answer{items: got, rv: listRV, err: listErr}
		})
	}
	wg.Wait()
	var firstErr error
	nFailed := 0
	rv = mergedRV{}
	for i, a := range answers {
		if expired(a.err) {
			return nil, nil, true, a.err // one backend's part of the snapshot is gone: so is the snapshot
		}
		if a.err != nil {
			nFailed++
			if firstErr == nil {
				firstErr = a.err
			}
			g.log.WarnContext(ctx, "list controllerrevisions: backend skipped", "backend", sources[i].name, "err", a.err)
			continue
		}
		items = append(items, a.items...)
		rv[sources[i].name] = a.rv
	}
	if nFailed == len(sources) {
		return nil, nil, true, firstErr
	}
	return items, rv, nFailed > 0, nil
}

// listControllerRevisions serves GET /apis/apps/v1[/namespaces/{namespace}]/controllerrevisions:
// the merge of every source's revisions (labelSelector passed on, fieldSelector
// on metadata.name and metadata.namespace applied here), sorted by namespace and
// name. Like the events list, its resourceVersion is every backend's (see mergedRV),
// and limit and continue page through one snapshot of them all.
func (g *gateway) listControllerRevisions(sources []revisionSource) func(http.ResponseWriter, *http.Request, map[string]string) {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		q := r.URL.Query()
		fieldSel, err := revisionFieldSelector(q.Get("fieldSelector"))
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		l, ok := g.mergedListOf(w, r)
		if !ok {
			return
		}
		items, rv, _, err := g.revisionsFrom(r.Context(), sources, params["namespace"], q.Get("labelSelector"), l)
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		items = slices.DeleteFunc(items, func(cr *appsv1.ControllerRevision) bool {
			m := cr.GetMetadata()
			return !fieldSel.Matches(fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()})
		})
		slices.SortFunc(items, func(a, b *appsv1.ControllerRevision) int {
			if c := strings.Compare(a.GetMetadata().GetNamespace(), b.GetMetadata().GetNamespace()); c != 0 {
				return c
			}
			return strings.Compare(a.GetMetadata().GetName(), b.GetMetadata().GetName())
		})
		items, meta := page(l, items, rv)
		g.writeMessage(w, r, http.StatusOK, &statefulsetv1.ListControllerRevisionsResponse{
			ApiVersion: "apps/v1",
			Kind:       "ControllerRevisionList",
			Metadata:   meta,
			Items:      items,
		})
	}
}

// watchControllerRevisions serves GET /apis/apps/v1[/namespaces/{namespace}]/controllerrevisions?watch=true:
// both backends' watches, merged (see serveMergedWatch), their data made Kubernetes' as in the lists.
func (g *gateway) watchControllerRevisions(sources []revisionSource) func(http.ResponseWriter, *http.Request, map[string]string) {
	merged := make([]mergedSource[*appsv1.ControllerRevision], len(sources))
	for i, s := range sources {
		merged[i] = mergedSource[*appsv1.ControllerRevision]{name: s.name, watch: s.watch}
	}
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		serveMergedWatch(g, w, r, params, merged, func(typ string, obj *appsv1.ControllerRevision) proto.Message {
			return &statefulsetv1.WatchControllerRevisionsResponse{Type: typ, Object: obj}
		})
	}
}

// getControllerRevision serves GET /apis/apps/v1/namespaces/{namespace}/controllerrevisions/{name}
// by asking every source for the namespace's revisions. Found nowhere, it is a
// 404 NotFound, unless a source failed: then its error, since it might have it.
func (g *gateway) getControllerRevision(sources []revisionSource) func(http.ResponseWriter, *http.Request, map[string]string) {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		name := params["name"]
		items, _, failed, err := g.revisionsFrom(r.Context(), sources, params["namespace"], "", mergedList{})
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		for _, cr := range items {
			if cr.GetMetadata().GetName() == name {
				g.writeMessage(w, r, http.StatusOK, cr)
				return
			}
		}
		if failed {
			g.writeError(w, r, newAPIError(ReasonServiceUnavailable, fmt.Sprintf(
				"controllerrevisions.apps %q: not found in the backends that answered, and some did not", name)))
			return
		}
		s := failureStatus(http.StatusNotFound, ReasonNotFound, fmt.Sprintf("controllerrevisions.apps %q not found", name))
		s.Details = &corev1.StatusDetails{Name: name, Group: "apps", Kind: "controllerrevisions"}
		g.writeStatus(w, r, g.outbound(r), s)
	}
}

// revisionFieldSelector parses a fieldSelector on the fields Kubernetes
// supports for ControllerRevisions (metadata.name, metadata.namespace).
func revisionFieldSelector(s string) (fields.Selector, error) {
	sel, err := fields.ParseSelector(s)
	if err != nil {
		return nil, newAPIError(ReasonBadRequest, err.Error())
	}
	for _, req := range sel.Requirements() {
		switch req.Field {
		case "metadata.name", "metadata.namespace":
		default:
			return nil, newAPIError(ReasonBadRequest, fmt.Sprintf(`field label not supported: %s`, req.Field))
		}
	}
	return sel, nil
}

// kubeData rewrites a revision's data into what kube-apiserver would serve:
// the services write the pod template with protojson, so its 64-bit integers
// are strings ("terminationGracePeriodSeconds": "30"), and kubectl decodes data
// into k8s.io/api types to show or roll back to a revision, where a string
// fails. data is {"spec":{"template":...}}, the shape of owner, whose
// descriptor types the numbers. Then, if the template decodes strictly into
// k8s.io/api's PodTemplateSpec (no field would be lost), data is re-encoded as
// Kubernetes' controllers encode it (the template through its Go type, sorted
// keys, "$patch":"replace"): kubectl compares these bytes with the workload's
// own encoding to skip an undo to the current revision.
func kubeData(cr *appsv1.ControllerRevision, owner protoreflect.MessageDescriptor) {
	if cr.GetData() == nil {
		return
	}
	b, err := protojson.Marshal(cr.GetData())
	if err != nil {
		return
	}
	if b, err = numberize(b, owner); err != nil {
		return
	}
	if k, ok := kubeTemplatePatch(b); ok {
		b = k
	}
	data := &structpb.Struct{}
	if protojson.Unmarshal(b, data) == nil {
		cr.Data = data
	}
}

// kubeTemplatePatch is the statefulset and daemonset controllers' getPatch
// applied to the template in data, or false when data is not exactly
// {"spec":{"template":{...}}} or the template has fields k8s.io/api lacks.
func kubeTemplatePatch(data []byte) ([]byte, bool) {
	var d map[string]map[string]map[string]json.RawMessage
	if err := json.Unmarshal(data, &d); err != nil || len(d) != 1 || len(d["spec"]) != 1 || d["spec"]["template"] == nil {
		return nil, false
	}
	tmpl := d["spec"]["template"]
	delete(tmpl, "$patch")
	raw, err := json.Marshal(tmpl)
	if err != nil {
		return nil, false
	}
	var pt k8scorev1.PodTemplateSpec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pt); err != nil {
		return nil, false
	}
	// getPatch: json.Marshal(set), spec.template as a map, "$patch": "replace".
	enc, err := json.Marshal(pt)
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal(enc, &m); err != nil {
		return nil, false
	}
	m["$patch"] = "replace"
	out, err := json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
	return out, err == nil
}

// controllerRevisionPrinter is kubectl's ControllerRevision columns: CONTROLLER
// is the controlling owner as <kind>.<group>/<name> ("statefulset.apps/web").
var controllerRevisionPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Controller", "string", 0), col("Revision", "number", 0), col("Age", "string", 0)},
	cells: func(o map[string]any, now time.Time) []any {
		controller := "<none>"
		for _, ref := range list(obj(o, "metadata"), "ownerReferences") {
			if ref["controller"] != true {
				continue
			}
			gv, err := schema.ParseGroupVersion(str2(ref, "apiVersion"))
			if err != nil {
				break
			}
			controller = strings.ToLower(gv.WithKind(str2(ref, "kind")).GroupKind().String()) + "/" + str2(ref, "name")
			break
		}
		return []any{name(o), controller, integer(o, "revision"), age(o, now)}
	},
}
