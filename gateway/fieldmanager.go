package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/podwarden/podwarden/gateway/internal/kubeopenapi"
)

// Field management (metadata.managedFields) and server-side apply are
// apimachinery's (k8s.io/apimachinery/pkg/util/managedfields, over
// sigs.k8s.io/structured-merge-diff), the code kube-apiserver runs: the gateway
// gives it kube-apiserver's schemas of the served kinds (internal/kubeopenapi)
// and works on the objects' Kubernetes JSON as unstructured objects. Every
// write that comes through the API records its manager (apply.go); the
// services store managedFields with the object and never change it.

// fieldManagers builds one managedfields.FieldManager per kind and
// subresource, on first use, over one type converter of every kind with an
// upstream schema.
type fieldManagers struct {
	mu       sync.Mutex
	managers map[managerKey]*managedfields.FieldManager
	// statusKinds are the kinds with a status subresource (from discovery).
	statusKinds map[schema.GroupVersionKind]bool
}

type managerKey struct {
	gvk         schema.GroupVersionKind
	subresource string
}

// typeConverter is the structured-merge-diff schema of every upstream kind,
// where a field the schema does not declare is kept as a deduced one: a
// stored object may hold a field podwarden writes and Kubernetes' schema of
// the kind lacks. (An applied configuration's unknown fields are refused
// before, against the kind's message: applyHandler.)
var typeConverter = sync.OnceValues(func() (managedfields.TypeConverter, error) {
	models, err := kubeopenapi.AllModels()
	if err != nil {
		return nil, err
	}
	return managedfields.NewTypeConverter(models, true)
})

// get returns the field manager of gvk's subresource ("" for the object itself,
// "status"). A kind without an upstream schema (podwarden's own) is managed as
// kube-apiserver manages a CustomResource without one: every field deduced
// from the object, lists atomic.
func (f *fieldManagers) get(gvk schema.GroupVersionKind, subresource string) (*managedfields.FieldManager, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := managerKey{gvk, subresource}
	if m, ok := f.managers[key]; ok {
		return m, nil
	}
	var (
		m   *managedfields.FieldManager
		err error
	)
	if _, known := kubeopenapi.SchemaName(gvk); known {
		tc, terr := typeConverter()
		if terr != nil {
			return nil, fmt.Errorf("field manager schemas: %w", terr)
		}
		m, err = managedfields.NewDefaultFieldManager(tc, unstructuredConvertor{}, unstructuredDefaulter{}, unstructuredCreater{},
			gvk, gvk.GroupVersion(), subresource, f.resetFields(gvk, subresource))
	} else {
		m, err = managedfields.NewDefaultCRDFieldManager(managedfields.NewDeducedTypeConverter(), unstructuredConvertor{}, unstructuredDefaulter{}, unstructuredCreater{},
			gvk, gvk.GroupVersion(), subresource, f.resetFields(gvk, subresource))
	}
	if err != nil {
		return nil, err
	}
	if f.managers == nil {
		f.managers = map[managerKey]*managedfields.FieldManager{}
	}
	f.managers[key] = m
	return m, nil
}

// warmFieldManagers builds the type converter (seconds of CPU).
func warmFieldManagers() { _, _ = typeConverter() }

// fits checks obj against its kind's structured schema (nil for a kind
// without an upstream one): a write whose body does not fit (a string for a
// number) is left for the backend to refuse.
func (f *fieldManagers) fits(gvk schema.GroupVersionKind, obj runtime.Object) error {
	if _, known := kubeopenapi.SchemaName(gvk); !known {
		return nil
	}
	tc, err := typeConverter()
	if err != nil {
		return err
	}
	_, err = tc.ObjectToTyped(obj, typed.AllowDuplicates)
	return err
}

// resetFields are the fields a write ignores, as kube-apiserver's strategies'
// GetResetFields: a kind with a status subresource ignores status in writes to
// the object and spec in writes to status, so an apply owns neither.
func (f *fieldManagers) resetFields(gvk schema.GroupVersionKind, subresource string) map[fieldpath.APIVersion]fieldpath.Filter {
	if !f.statusKinds[gvk] {
		return nil
	}
	reset := "status"
	if subresource == "status" {
		reset = "spec"
	}
	return map[fieldpath.APIVersion]fieldpath.Filter{
		fieldpath.APIVersion(gvk.GroupVersion().String()): fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie(reset))),
	}
}

// unstructuredConvertor converts nothing: the gateway serves each kind at the
// versions its backend stores, and managed fields recorded at another version
// of a kind (autoscaling/v1 and v2) are dropped by the field manager, which
// treats a version it cannot convert to as unknown.
type unstructuredConvertor struct{}

func (unstructuredConvertor) Convert(in, out, _ any) error {
	return fmt.Errorf("convert %T to %T: not supported", in, out)
}

func (unstructuredConvertor) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	gvk := in.GetObjectKind().GroupVersionKind()
	target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk})
	if !ok || target != gvk {
		return nil, runtime.NewNotRegisteredGVKErrForTarget("podwarden", gvk, gv)
	}
	return in.DeepCopyObject(), nil
}

func (unstructuredConvertor) ConvertFieldLabel(_ schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

// unstructuredDefaulter defaults nothing: the services default what they store.
type unstructuredDefaulter struct{}

func (unstructuredDefaulter) Default(runtime.Object) {}

// unstructuredCreater makes an empty object of a kind (the live object of a
// create, or of an apply that creates).
type unstructuredCreater struct{}

func (unstructuredCreater) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// toUnstructured decodes a JSON object (integers as int64, as unstructured
// objects hold them).
func toUnstructured(data []byte) (*unstructured.Unstructured, error) {
	var obj map[string]any
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return &unstructured.Unstructured{Object: obj}, nil
}

func fromObject(obj runtime.Object) ([]byte, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("field manager returned a %T", obj)
	}
	return json.Marshal(u.Object)
}

// kindOf finds the kind a resource request writes: the discovery entry of its
// group/version/resource[/subresource].
func (g *gateway) kindOf(r *http.Request) (info requestInfo, gvk schema.GroupVersionKind, ok bool) {
	info = parseRequestInfo(r)
	if !info.isResourceRequest || info.resource == "" {
		return info, gvk, false
	}
	gv := info.version
	if info.group != "" {
		gv = info.group + "/" + info.version
	}
	name := info.resource
	if info.subresource != "" {
		name += "/" + info.subresource
	}
	for _, res := range g.discovery.resources[gv] {
		if res.Name != name {
			continue
		}
		gvk = schema.GroupVersionKind{Group: info.group, Version: info.version, Kind: res.Kind}
		if res.Version != "" {
			gvk.Group, gvk.Version = res.Group, res.Version
		}
		return info, gvk, true
	}
	return info, gvk, false
}

// statusKinds are the kinds served with a status subresource that takes
// writes (deployments/status, ...).
func (d *discovery) statusKinds() map[schema.GroupVersionKind]bool {
	out := map[schema.GroupVersionKind]bool{}
	for gv, rs := range d.resources {
		group, version, ok := splitGroupVersion(gv)
		if !ok {
			group, version = "", gv
		}
		for _, r := range rs {
			if path.Base(r.Name) == "status" && r.Name != "status" && slices.Contains(r.Verbs, "update") {
				out[schema.GroupVersionKind{Group: group, Version: version, Kind: r.Kind}] = true
			}
		}
	}
	return out
}
