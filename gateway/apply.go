package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/yaml"
)

// applyPatchType is server-side apply's patch media type.
const applyPatchType = "application/apply-patch+yaml"

// managerOf names the field manager of a write as kube-apiserver does: the
// fieldManager parameter, or else the User-Agent up to its first "/"
// ("kubectl", "Go-http-client"), printable characters only, at most 128 bytes.
func managerOf(r *http.Request) string {
	if m := r.URL.Query().Get("fieldManager"); m != "" {
		return m
	}
	var out []rune
	n := 0
	for _, c := range r.UserAgent() {
		if c == '/' {
			break
		}
		if !unicode.IsPrint(c) {
			continue
		}
		if n+len(string(c)) > metavalidation.FieldManagerMaxLength {
			break
		}
		n += len(string(c))
		out = append(out, c)
	}
	return string(out)
}

// patchOptions reads a PATCH's options from its query.
func patchOptions(q url.Values) (*metav1.PatchOptions, error) {
	o := &metav1.PatchOptions{DryRun: q["dryRun"], FieldManager: q.Get("fieldManager"), FieldValidation: q.Get("fieldValidation")}
	if v := q.Get("force"); v != "" {
		force, err := strconv.ParseBool(v)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid value for force: %q", v))
		}
		o.Force = &force
	}
	return o, nil
}

// checkPatchOptions validates a PATCH's options as kube-apiserver does: an
// apply needs a fieldManager, force is for applies only.
func checkPatchOptions(r *http.Request, patchType string) error {
	o, err := patchOptions(r.URL.Query())
	if err != nil {
		return err
	}
	if errs := metavalidation.ValidatePatchOptions(o, types.PatchType(patchType)); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "PatchOptions"}, "", errs)
	}
	return nil
}

// writeAPIStatus answers err, an apimachinery error (a *apierrors.StatusError,
// or any error as kube-apiserver answers one it does not know: 500 with its text).
func (g *gateway) writeAPIStatus(w http.ResponseWriter, r *http.Request, err error) {
	var st metav1.Status
	if s, ok := err.(apierrors.APIStatus); ok {
		st = s.Status()
	} else {
		st = metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error()}
	}
	st.Kind, st.APIVersion = "Status", "v1"
	body, _ := json.Marshal(st)
	g.relay(w, r, response{code: int(st.Code), body: body})
}

// fieldManagerOf is the field manager of the kind a request writes; ok is
// false when the path is not a resource discovery lists.
func (g *gateway) fieldManagerOf(r *http.Request) (m *managedfields.FieldManager, info requestInfo, gvk schema.GroupVersionKind, ok bool, err error) {
	info, gvk, ok = g.kindOf(r)
	if !ok || (info.subresource != "" && info.subresource != "status") {
		return nil, info, gvk, false, nil
	}
	m, err = g.fieldManagers.get(gvk, info.subresource)
	return m, info, gvk, err == nil, err
}

// applyHandler serves a server-side apply: PATCH with application/apply-patch+yaml.
// The field manager merges the applied configuration into the object (the
// stored one, or a new empty one: an apply creates a missing object), takes
// ownership of the fields it sets for the fieldManager, and answers 409
// listing the fields other managers own with other values, unless force=true.
// The result is written with the resourceVersion it was read at (a race is
// retried from a fresh read), and not written at all when nothing changed.
func (g *gateway) applyHandler(w http.ResponseWriter, r *http.Request, patch []byte) {
	if err := checkPatchOptions(r, applyPatchType); err != nil {
		g.writeAPIStatus(w, r, err)
		return
	}
	fm, info, gvk, ok, err := g.fieldManagerOf(r)
	if err != nil {
		g.writeAPIStatus(w, r, apierrors.NewInternalError(err))
		return
	}
	if !ok {
		g.writeAPIStatus(w, r, apierrors.NewMethodNotSupported(schema.GroupResource{Group: info.group, Resource: info.resource}, "apply"))
		return
	}
	patchJSON, err := yaml.YAMLToJSONStrict(patch)
	if err != nil {
		// A duplicate key: refused under Strict, warned about under Warn (kube-apiserver's
		// strict decoding of the patch); a patch that is no YAML at all is refused.
		if patchJSON, err = yaml.YAMLToJSON(patch); err != nil {
			g.writeAPIStatus(w, r, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err)))
			return
		}
		switch dups := yamlDuplicates(patch); fieldValidationDirective(r) {
		case metav1.FieldValidationStrict:
			g.writeAPIStatus(w, r, apierrors.NewBadRequest(fmt.Sprintf("error strict decoding patch: %s", strings.Join(dups, ", "))))
			return
		case metav1.FieldValidationWarn:
			addWarnings(w.Header(), dups)
		}
	}
	applied, err := toUnstructured(patchJSON)
	if err != nil {
		g.writeAPIStatus(w, r, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err)))
		return
	}
	if name := applied.GetName(); name != "" && name != info.name {
		g.writeAPIStatus(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", name, info.name)))
		return
	}
	if md, ok := g.schemas[resourceKey(info)]; ok && applied.GroupVersionKind() == gvk {
		if unknown := unknownFields(applied.Object, md, ""); len(unknown) > 0 {
			// kube-apiserver's words (a 500: it is not a StatusError there either)
			errs := make([]string, len(unknown))
			for i, f := range unknown {
				errs[i] = "." + f + ": field not declared in schema"
			}
			g.writeAPIStatus(w, r, fmt.Errorf("failed to create typed patch object (%s/%s; %s): %s",
				applied.GetNamespace(), applied.GetName(), gvk, strings.Join(errs, "\n")))
			return
		}
	}
	opts, _ := patchOptions(r.URL.Query()) // checked above
	force := opts.Force != nil && *opts.Force
	manager := opts.FieldManager
	for attempt := 1; ; attempt++ {
		cur := g.inProcess(r.Context(), r, http.MethodGet, nil)
		var live runtime.Object
		switch {
		case cur.code == http.StatusOK:
			if live, err = toUnstructured(cur.body); err != nil {
				g.writeAPIStatus(w, r, apierrors.NewInternalError(err))
				return
			}
		case cur.code == http.StatusNotFound && info.subresource == "":
			live, _ = unstructuredCreater{}.New(gvk)
		default:
			g.relay(w, r, cur)
			return
		}
		out, err := fm.Apply(live, applied.DeepCopy(), manager, force)
		if err != nil {
			g.writeAPIStatus(w, r, err)
			return
		}
		obj := out.(*unstructured.Unstructured)
		if cur.code == http.StatusNotFound {
			g.createApplied(w, r, info, obj)
			return
		}
		precondition := applied.GetResourceVersion() != ""
		if !precondition {
			obj.SetResourceVersion(resourceVersion(cur.body))
		}
		body, err := fromObject(obj)
		if err != nil {
			g.writeAPIStatus(w, r, apierrors.NewInternalError(err))
			return
		}
		if jsonEqual(cur.body, body) || g.sameStored(info, cur.body, body) {
			g.relay(w, r, cur)
			return
		}
		res := g.inProcessAt(r.Context(), r, http.MethodPut, r.URL.Path, body)
		if res.code == http.StatusConflict && statusReason(res.body) == ReasonConflict && !precondition && attempt < maxPatchAttempts {
			continue
		}
		g.relay(w, r, res)
		return
	}
}

// createApplied creates the object an apply built from nothing, by a POST to
// its collection (answered 201 Created, as kube-apiserver answers such an apply).
func (g *gateway) createApplied(w http.ResponseWriter, r *http.Request, info requestInfo, obj *unstructured.Unstructured) {
	obj.SetName(info.name)
	if info.namespace != "" {
		obj.SetNamespace(info.namespace)
	}
	body, err := fromObject(obj)
	if err != nil {
		g.writeAPIStatus(w, r, apierrors.NewInternalError(err))
		return
	}
	g.relay(w, r, g.inProcessAt(r.Context(), r, http.MethodPost, path.Dir(r.URL.Path), body))
}

// inProcessAt is inProcess on another path of the same API, without the
// PATCH-only query parameter force.
func (g *gateway) inProcessAt(ctx context.Context, orig *http.Request, method, urlPath string, body []byte) response {
	q := orig.URL.Query()
	q.Del("force")
	r := orig.Clone(ctx)
	r.URL = &url.URL{Path: urlPath, RawQuery: q.Encode()}
	return g.inProcess(ctx, r, method, body)
}

// recordUpdate returns next (the JSON object a non-apply write stores) with
// its managedFields updated for the request's manager, from live (the stored
// object, nil on create), as kube-apiserver's UpdateNoErrors does: a write
// that leaves managedFields out keeps the stored ones; one the field manager
// cannot handle loses them (never garbage).
func (g *gateway) recordUpdate(r *http.Request, fm *managedfields.FieldManager, gvk schema.GroupVersionKind, live, next []byte) []byte {
	newObj, err := toUnstructured(next)
	if err != nil {
		return next // the write itself reports the bad body
	}
	switch newObj.GroupVersionKind() {
	case gvk:
	case schema.GroupVersionKind{}:
		newObj.SetGroupVersionKind(gvk)
	default:
		return next // the write rejects the other kind
	}
	if g.fieldManagers.fits(gvk, newObj) != nil {
		return next
	}
	var liveObj *unstructured.Unstructured
	if live == nil {
		liveObj = &unstructured.Unstructured{Object: map[string]any{}}
		liveObj.SetGroupVersionKind(gvk)
	} else if liveObj, err = toUnstructured(live); err != nil {
		return next
	}
	out, ok := fm.UpdateNoErrors(asDecoded(gvk, liveObj), asDecoded(gvk, newObj), managerOf(r)).(*unstructured.Unstructured)
	if !ok {
		return next
	}
	newObj.SetManagedFields(out.GetManagedFields())
	b, err := fromObject(newObj)
	if err != nil {
		return next
	}
	return b
}

// asDecoded is obj as kube-apiserver's field manager sees a write: decoded
// into its k8s.io/api type and back, so that a field set to its zero value
// where the type leaves it out (minReadySeconds: 0, paused: false) is no field
// at all, and owned by nobody. kube-apiserver records the manager of a create
// or update on the decoded object (handlers/create.go, update.go), so `kubectl
// apply`'s kubectl-client-side-apply never owns .spec.minReadySeconds of a
// manifest that sets it to 0, and a later `kubectl apply --server-side` of the
// same manifest conflicts with nothing. A kind without a k8s.io/api type, or a
// body that does not decode, is taken as it is.
func asDecoded(gvk schema.GroupVersionKind, obj *unstructured.Unstructured) *unstructured.Unstructured {
	typed, err := kubeScheme.New(gvk)
	if err != nil {
		return obj
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, typed); err != nil {
		return obj
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return obj
	}
	out := &unstructured.Unstructured{Object: m}
	out.SetGroupVersionKind(gvk)
	return out
}

// manageFields records the manager of every create (POST to a collection) and
// update (PUT of an object, its status or its scale: recordScale) that comes through the API: the
// body gets its managedFields (from the stored object's) before the write. An
// apply or other PATCH records its own (applyHandler, patchHandler).
func (g *gateway) manageFields(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			next.ServeHTTP(w, r)
			return
		}
		fm, info, gvk, ok, err := g.fieldManagerOf(r)
		create := r.Method == http.MethodPost && info.name == "" && info.subresource == ""
		update := r.Method == http.MethodPut && info.name != ""
		scale := update && info.subresource == "scale"
		if err != nil || !(ok || scale) || !(create || update) {
			if err != nil {
				g.log.WarnContext(r.Context(), "field manager", "err", err)
			}
			next.ServeHTTP(w, r)
			return
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		body, err := io.ReadAll(r.Body)
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("error reading request body: %v", err)))
			return
		}
		if mt == mimeYAML || mt == mimeXYAML {
			if j, err := yaml.YAMLToJSON(body); err == nil {
				body, mt = j, mimeJSON
				r.Header.Set("Content-Type", mimeJSON)
			}
		}
		if mt == mimeJSON || mt == "" {
			var live []byte
			if update {
				cur := g.inProcess(r.Context(), r, http.MethodGet, nil)
				if cur.code == http.StatusOK {
					live = cur.body
				}
			}
			switch {
			case scale && live != nil:
				body = g.recordScale(r, live, body)
			case scale:
			case create || live != nil:
				body = g.recordUpdate(r, fm, gvk, live, body)
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Del("Content-Length")
		next.ServeHTTP(w, r)
	})
}

// sameStored reports whether writing next over cur would store the same
// object but for the managedFields' times: both decoded into the resource's
// message (so a field set to its zero value, which the object's JSON leaves
// out, is no change). An apply that changes nothing else writes nothing, and
// so leaves the times of its managed fields alone.
func (g *gateway) sameStored(info requestInfo, cur, next []byte) bool {
	md, ok := g.schemas[resourceKey(info)]
	if !ok {
		return false
	}
	decode := func(b []byte) (proto.Message, bool) {
		m := dynamicpb.NewMessage(md)
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
			return nil, false
		}
		clearManagedTimes(m)
		return m, true
	}
	a, okA := decode(cur)
	b, okB := decode(next)
	return okA && okB && proto.Equal(a, b)
}

// clearManagedTimes clears metadata.managedFields[*].time of a decoded object.
func clearManagedTimes(m protoreflect.Message) {
	meta := m.Descriptor().Fields().ByName("metadata")
	if meta == nil || meta.Message() == nil || !m.Has(meta) {
		return
	}
	mm := m.Get(meta).Message()
	mf := mm.Descriptor().Fields().ByName("managed_fields")
	if mf == nil || !mf.IsList() {
		return
	}
	list := mm.Get(mf).List()
	for i := 0; i < list.Len(); i++ {
		e := list.Get(i).Message()
		if t := e.Descriptor().Fields().ByName("time"); t != nil {
			e.Clear(t)
		}
	}
}
