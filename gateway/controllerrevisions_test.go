package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8sappsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/labels"

	appsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/apps/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// revisionData is the data the services store: the pod template as protojson
// writes it (64-bit integers as strings) plus "$patch": "replace".
func revisionData(t *testing.T, image string) *structpb.Struct {
	t.Helper()
	data := &structpb.Struct{}
	err := protojson.Unmarshal(fmt.Appendf(nil, `{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"web"}},
		"spec":{"terminationGracePeriodSeconds":"30","containers":[{"name":"nginx","image":%q}]}}}}`, image), data)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func revisionMeta(ns, name, ownerKind, owner string) *corev1.ObjectMeta {
	yes, no := true, false
	return &corev1.ObjectMeta{
		Name: name, Namespace: ns, Labels: map[string]string{"app": owner}, ResourceVersion: "4",
		CreationTimestamp: timestamppb.New(time.Now().Add(-90 * time.Second)),
		OwnerReferences: []*corev1.OwnerReference{
			{ApiVersion: "v1", Kind: "ConfigMap", Name: "not-the-controller", Uid: "u0", Controller: &no},
			{ApiVersion: "apps/v1", Kind: ownerKind, Name: owner, Uid: "uid-" + owner, Controller: &yes},
		},
	}
}

// fakeDaemonSetRevisions is a DaemonSetService with only ListControllerRevisions.
type fakeDaemonSetRevisions struct {
	daemonsetv1.UnimplementedDaemonSetServiceServer
	mu    sync.Mutex
	items []*appsv1.ControllerRevision
	err   error
	reqs  []*daemonsetv1.ListControllerRevisionsRequest
}

func (f *fakeDaemonSetRevisions) ListControllerRevisions(_ context.Context, req *daemonsetv1.ListControllerRevisionsRequest) (*daemonsetv1.ListControllerRevisionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.err != nil {
		return nil, f.err
	}
	sel, err := labels.Parse(req.GetLabelSelector())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp := &daemonsetv1.ListControllerRevisionsResponse{ApiVersion: "apps/v1", Kind: "ControllerRevisionList", Metadata: &corev1.ListMeta{ResourceVersion: "9"}}
	for _, cr := range f.items {
		if (req.GetNamespace() == "" || req.GetNamespace() == cr.GetMetadata().GetNamespace()) && sel.Matches(labels.Set(cr.GetMetadata().GetLabels())) {
			resp.Items = append(resp.Items, cr)
		}
	}
	return resp, nil
}

// fakeStatefulSetRevisions is a StatefulSetService with only ListControllerRevisions.
type fakeStatefulSetRevisions struct {
	statefulsetv1.UnimplementedStatefulSetServiceServer
	mu    sync.Mutex
	items []*appsv1.ControllerRevision
	err   error
	reqs  []*statefulsetv1.ListControllerRevisionsRequest
}

func (f *fakeStatefulSetRevisions) ListControllerRevisions(_ context.Context, req *statefulsetv1.ListControllerRevisionsRequest) (*statefulsetv1.ListControllerRevisionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.err != nil {
		return nil, f.err
	}
	sel, err := labels.Parse(req.GetLabelSelector())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp := &statefulsetv1.ListControllerRevisionsResponse{ApiVersion: "apps/v1", Kind: "ControllerRevisionList", Metadata: &corev1.ListMeta{ResourceVersion: "5"}}
	for _, cr := range f.items {
		if (req.GetNamespace() == "" || req.GetNamespace() == cr.GetMetadata().GetNamespace()) && sel.Matches(labels.Set(cr.GetMetadata().GetLabels())) {
			resp.Items = append(resp.Items, cr)
		}
	}
	return resp, nil
}

// revisionEnv is the gateway in front of a daemonset and a statefulset backend
// that store two revisions each (in default; the StatefulSet's also one in
// other), listed out of order.
type revisionEnv struct {
	*testEnv
	ds  *fakeDaemonSetRevisions
	sts *fakeStatefulSetRevisions
}

func newRevisionEnv(t *testing.T) *revisionEnv {
	t.Helper()
	ds := &fakeDaemonSetRevisions{items: []*appsv1.ControllerRevision{
		{ApiVersion: "apps/v1", Kind: "ControllerRevision", Metadata: revisionMeta("default", "agent-7c9", "DaemonSet", "agent"), Data: revisionData(t, "agent:2"), Revision: 2},
		{ApiVersion: "apps/v1", Kind: "ControllerRevision", Metadata: revisionMeta("default", "agent-5f4", "DaemonSet", "agent"), Data: revisionData(t, "agent:1"), Revision: 1},
	}}
	sts := &fakeStatefulSetRevisions{items: []*appsv1.ControllerRevision{
		{ApiVersion: "apps/v1", Kind: "ControllerRevision", Metadata: revisionMeta("other", "web-111", "StatefulSet", "web"), Data: revisionData(t, "nginx:1"), Revision: 1},
		{ApiVersion: "apps/v1", Kind: "ControllerRevision", Metadata: revisionMeta("default", "web-bbb", "StatefulSet", "web"), Data: revisionData(t, "nginx:2"), Revision: 2},
		{ApiVersion: "apps/v1", Kind: "ControllerRevision", Metadata: revisionMeta("default", "web-aaa", "StatefulSet", "web"), Data: revisionData(t, "nginx:1"), Revision: 1},
	}}
	backends := Backends{
		DaemonSet:   startBackend(t, func(s *grpc.Server) { daemonsetv1.RegisterDaemonSetServiceServer(s, ds) }),
		StatefulSet: startBackend(t, func(s *grpc.Server) { statefulsetv1.RegisterStatefulSetServiceServer(s, sts) }),
	}
	return &revisionEnv{testEnv: revisionGateway(t, backends), ds: ds, sts: sts}
}

func revisionGateway(t *testing.T, backends Backends) *testEnv {
	t.Helper()
	h, err := NewHandler(t.Context(), Config{Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))}, backends)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return &testEnv{t: t, srv: newHTTPTestServer(t, h)}
}

func itemNames(t *testing.T, r result) []string {
	t.Helper()
	r.wantCode(t, http.StatusOK)
	var names []string
	for _, it := range get(r.object(t), "items").([]any) {
		names = append(names, fmt.Sprint(get(it, "metadata", "namespace"), "/", get(it, "metadata", "name")))
	}
	return names
}

func TestControllerRevisionsMergedList(t *testing.T) {
	e := newRevisionEnv(t)
	r := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions?labelSelector=app%20in%20(agent,web)", "")
	r.wantCode(t, http.StatusOK)
	list := r.object(t)
	if list["kind"] != "ControllerRevisionList" || list["apiVersion"] != "apps/v1" {
		t.Errorf("list header %s", r.body)
	}
	if md, ok := list["metadata"].(map[string]any); !ok || md["resourceVersion"] != "daemonset=9,statefulset=5" {
		t.Errorf("metadata %v, want the merged resourceVersion of both backends", list["metadata"])
	}
	want := []string{"default/agent-5f4", "default/agent-7c9", "default/web-aaa", "default/web-bbb"}
	if got := itemNames(t, r); !slices.Equal(got, want) {
		t.Fatalf("items %v, want %v", got, want)
	}
	first := get(list, "items", 0)
	if get(first, "revision") != json.Number("1") || get(first, "kind") != "ControllerRevision" || get(first, "apiVersion") != "apps/v1" {
		t.Errorf("item %v: want revision the number 1", first)
	}
	tmpl := get(first, "data", "spec", "template")
	if get(tmpl, "$patch") != "replace" || get(tmpl, "spec", "terminationGracePeriodSeconds") != json.Number("30") ||
		get(tmpl, "spec", "containers", 0, "image") != "agent:1" {
		t.Errorf("data template %v: want $patch replace and the 64-bit integers as numbers", tmpl)
	}
	if get(first, "metadata", "resourceVersion") != "4" {
		t.Errorf("item metadata %v", get(first, "metadata"))
	}
	for _, reqs := range [][2]string{{e.ds.reqs[0].GetNamespace(), e.ds.reqs[0].GetLabelSelector()}, {e.sts.reqs[0].GetNamespace(), e.sts.reqs[0].GetLabelSelector()}} {
		if reqs != [2]string{"default", "app in (agent,web)"} {
			t.Errorf("backend asked %v", reqs)
		}
	}

	// All namespaces: sorted by namespace, then name.
	all := itemNames(t, e.do(http.MethodGet, "/apis/apps/v1/controllerrevisions", ""))
	if want := append(want, "other/web-111"); !slices.Equal(all, want) {
		t.Errorf("all namespaces %v, want %v", all, want)
	}
	// The label selector is the backends' to apply.
	if got := itemNames(t, e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions?labelSelector=app%3Dweb", "")); !slices.Equal(got, want[2:4]) {
		t.Errorf("app=web: %v", got)
	}
	// fieldSelector on metadata.name and metadata.namespace.
	if got := itemNames(t, e.do(http.MethodGet, "/apis/apps/v1/controllerrevisions?fieldSelector=metadata.name%3Dweb-111", "")); !slices.Equal(got, []string{"other/web-111"}) {
		t.Errorf("metadata.name=web-111: %v", got)
	}
	if got := itemNames(t, e.do(http.MethodGet, "/apis/apps/v1/controllerrevisions?fieldSelector=metadata.namespace!%3Ddefault", "")); !slices.Equal(got, []string{"other/web-111"}) {
		t.Errorf("metadata.namespace!=default: %v", got)
	}
	s := e.do(http.MethodGet, "/apis/apps/v1/controllerrevisions?fieldSelector=revision%3D1", "").wantStatus(t, http.StatusBadRequest, ReasonBadRequest)
	if s["message"] != "field label not supported: revision" {
		t.Errorf("message %v", s["message"])
	}
	// YAML when asked.
	if y := e.do(http.MethodGet, "/apis/apps/v1/controllerrevisions", "", "Accept: application/yaml"); y.header.Get("Content-Type") != mimeYAML {
		t.Errorf("Content-Type %q", y.header.Get("Content-Type"))
	}
}

func TestControllerRevisionGet(t *testing.T) {
	e := newRevisionEnv(t)
	for name, owner := range map[string]string{"agent-7c9": "agent", "web-bbb": "web"} {
		r := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions/"+name, "")
		r.wantCode(t, http.StatusOK)
		o := r.object(t)
		if o["kind"] != "ControllerRevision" || get(o, "metadata", "name") != name || get(o, "revision") != json.Number("2") ||
			get(o, "metadata", "ownerReferences", 1, "name") != owner || get(o, "data", "spec", "template", "spec", "terminationGracePeriodSeconds") != json.Number("30") {
			t.Errorf("get %s: %s", name, r.body)
		}
	}
	// In another namespace: not found.
	s := e.do(http.MethodGet, "/apis/apps/v1/namespaces/other/controllerrevisions/web-bbb", "").wantStatus(t, http.StatusNotFound, ReasonNotFound)
	if s["message"] != `controllerrevisions.apps "web-bbb" not found` || get(s, "details", "name") != "web-bbb" ||
		get(s, "details", "group") != "apps" || get(s, "details", "kind") != "controllerrevisions" {
		t.Errorf("not found: %v", s)
	}
}

func TestControllerRevisionsWithABackendDown(t *testing.T) {
	e := newRevisionEnv(t)
	e.sts.err = status.Error(codes.Unavailable, "statefulset service down")
	// The list leaves it out.
	if got := itemNames(t, e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions", "")); !slices.Equal(got, []string{"default/agent-5f4", "default/agent-7c9"}) {
		t.Errorf("items %v", got)
	}
	// A revision the other backend has is found; one it has not might be the
	// failed backend's: not a 404.
	e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions/agent-7c9", "").wantCode(t, http.StatusOK)
	e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions/web-bbb", "").wantStatus(t, http.StatusServiceUnavailable, ReasonServiceUnavailable)
	// All down: the error.
	e.ds.err = status.Error(codes.Unavailable, "daemonset service down")
	e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions", "").wantStatus(t, http.StatusServiceUnavailable, ReasonServiceUnavailable)
	e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions/web-bbb", "").wantStatus(t, http.StatusServiceUnavailable, ReasonServiceUnavailable)
}

func TestControllerRevisionTable(t *testing.T) {
	e := newRevisionEnv(t)
	r := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions?labelSelector=app%3Dweb", "",
		"Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
	r.wantCode(t, http.StatusOK)
	tb := r.object(t)
	if tb["kind"] != "Table" || tb["apiVersion"] != "meta.k8s.io/v1" {
		t.Fatalf("not a Table: %s", r.body)
	}
	var cols []string
	for _, c := range get(tb, "columnDefinitions").([]any) {
		cols = append(cols, fmt.Sprint(get(c, "name"), ":", get(c, "type")))
	}
	if want := []string{"Name:string", "Controller:string", "Revision:number", "Age:string"}; !slices.Equal(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
	if got := fmt.Sprint(get(tb, "rows", 1, "cells")); got != "[web-bbb statefulset.apps/web 2 90s]" {
		t.Errorf("cells %s", got)
	}
	if get(tb, "rows", 1, "cells", 2) != json.Number("2") {
		t.Errorf("revision cell %v, want a number", get(tb, "rows", 1, "cells", 2))
	}
	if get(tb, "rows", 0, "object", "metadata", "name") != "web-aaa" {
		t.Errorf("row object %v", get(tb, "rows", 0, "object"))
	}
	// One object: one row. Without a controller: <none>.
	one := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions/agent-5f4", "", "Accept: application/json;as=Table;v=v1;g=meta.k8s.io")
	if got := fmt.Sprint(get(one.object(t), "rows", 0, "cells")); got != "[agent-5f4 daemonset.apps/agent 1 90s]" {
		t.Errorf("cells %s", got)
	}
	doc, err := decodeJSON([]byte(`{"kind":"ControllerRevision","metadata":{"name":"orphan"},"revision":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(toTable(doc, time.Now()).Rows[0].Cells); got != "[orphan <none> 3 <unknown>]" {
		t.Errorf("orphan cells %s", got)
	}
}

func TestControllerRevisionDiscovery(t *testing.T) {
	resources := func(e *testEnv) map[string][]any {
		r := e.do(http.MethodGet, "/apis/apps/v1", "")
		r.wantCode(t, http.StatusOK)
		out := map[string][]any{}
		for _, res := range get(r.object(t), "resources").([]any) {
			out[get(res, "name").(string)] = append([]any{get(res, "namespaced"), get(res, "kind")}, get(res, "verbs").([]any)...)
		}
		return out
	}
	want := fmt.Sprint([]any{true, "ControllerRevision", "get", "list", "watch"})
	if got := fmt.Sprint(resources(newRevisionEnv(t).testEnv)["controllerrevisions"]); got != want {
		t.Errorf("controllerrevisions %s, want %s", got, want)
	}
	// Either backend alone serves them.
	sts := &fakeStatefulSetRevisions{}
	only := revisionGateway(t, Backends{StatefulSet: startBackend(t, func(s *grpc.Server) { statefulsetv1.RegisterStatefulSetServiceServer(s, sts) })})
	if got := fmt.Sprint(resources(only)["controllerrevisions"]); got != want {
		t.Errorf("statefulset backend only: controllerrevisions %s", got)
	}
	if got := itemNames(t, only.do(http.MethodGet, "/apis/apps/v1/controllerrevisions", "")); len(got) != 0 {
		t.Errorf("items %v", got)
	}
	// Neither: not listed, not served.
	e := newEnv(t)
	if _, ok := resources(e)["controllerrevisions"]; ok {
		t.Errorf("controllerrevisions listed without a daemonset or statefulset backend")
	}
	e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions", "").wantStatus(t, http.StatusNotFound, ReasonNotFound)
}

// kubectl skips `rollout undo --to-revision=N` when N is the current revision by
// comparing the revision's data with its own encoding of the workload's
// template, byte for byte (getStatefulSetPatch, getDaemonSetPatch): the data
// the gateway serves is that encoding.
func TestControllerRevisionDataIsKubectlsPatch(t *testing.T) {
	e := newRevisionEnv(t)
	r := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions/web-aaa", "")
	r.wantCode(t, http.StatusOK)
	var cr k8sappsv1.ControllerRevision
	if err := json.Unmarshal(r.body, &cr); err != nil {
		t.Fatalf("decode as k8s.io/api ControllerRevision: %v", err)
	}
	if cr.Revision != 1 {
		t.Errorf("revision %d", cr.Revision)
	}
	var set k8sappsv1.StatefulSet
	if err := json.Unmarshal([]byte(`{"spec":{"template":{"metadata":{"labels":{"app":"web"}},
		"spec":{"terminationGracePeriodSeconds":30,"containers":[{"name":"nginx","image":"nginx:1"}]}}}}`), &set); err != nil {
		t.Fatal(err)
	}
	// kubectl's getStatefulSetPatch.
	raw, _ := json.Marshal(set)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	tmpl := get(m, "spec", "template").(map[string]any)
	tmpl["$patch"] = "replace"
	want, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
	if string(cr.Data.Raw) != string(want) {
		t.Errorf("data\n%s\nwant kubectl's encoding\n%s", cr.Data.Raw, want)
	}

	// A template with a field k8s.io/api lacks is served as stored (numbers fixed).
	odd := revisionData(t, "nginx:3")
	odd.Fields["spec"].GetStructValue().Fields["template"].GetStructValue().Fields["spec"].GetStructValue().Fields["podwardenOnly"] = structpb.NewStringValue("x")
	e.sts.items = append(e.sts.items, &appsv1.ControllerRevision{Metadata: revisionMeta("default", "web-ccc", "StatefulSet", "web"), Data: odd, Revision: 3})
	o := e.do(http.MethodGet, "/apis/apps/v1/namespaces/default/controllerrevisions/web-ccc", "").object(t)
	if spec := get(o, "data", "spec", "template", "spec"); get(spec, "podwardenOnly") != "x" || get(spec, "terminationGracePeriodSeconds") != json.Number("30") {
		t.Errorf("template spec %v", spec)
	}
}

// What `kubectl rollout undo` sends: the revision's data, a strategic merge
// patch whose "$patch": "replace" makes the template exactly the patch's.
func TestStrategicMergePatchReplacesATemplate(t *testing.T) {
	e := newEnv(t)
	e.createNginx()
	r := e.do(http.MethodPatch, nginxPath,
		`{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"nginx","track":"old"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.13"}]}}}}`,
		"Content-Type: application/strategic-merge-patch+json")
	r.wantCode(t, http.StatusOK)
	obj := r.object(t)
	tmpl := get(obj, "spec", "template")
	b, _ := json.Marshal(tmpl)
	if want := `{"metadata":{"labels":{"app":"nginx","track":"old"}},"spec":{"containers":[{"image":"nginx:1.13","name":"nginx"}]}}`; string(b) != want {
		t.Errorf("template %s, want %s (ports and resources gone, not merged)", b, want)
	}
	if get(obj, "spec", "replicas") != json.Number("3") || get(obj, "metadata", "labels", "tier") != "web" {
		t.Errorf("the rest of the object changed: %s", r.body)
	}

	// The same directive, at the level of the unit.
	cur := []byte(`{"spec":{"template":{"metadata":{"labels":{"a":"1"}},"spec":{"nodeSelector":{"x":"y"},"containers":[{"name":"c","image":"i:1","ports":[{"containerPort":80}]},{"name":"d","image":"j"}]}}}}`)
	out, err := strategicMergePatch(cur, []byte(`{"spec":{"template":{"$patch":"replace","spec":{"containers":[{"name":"c","image":"i:2"}]}}}}`), daemonSetDesc)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"spec":{"template":{"spec":{"containers":[{"image":"i:2","name":"c"}]}}}}`; !jsonEqual(out, []byte(want)) {
		t.Errorf("patched %s, want %s", out, want)
	}
}
