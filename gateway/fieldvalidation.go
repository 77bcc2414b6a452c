package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Field validation (the fieldValidation parameter of every write), as
// kube-apiserver does it: a body's unknown fields (not in the kind's schema)
// and duplicate fields are
//   - Warn (the default): dropped, and each reported in a Warning header
//     (`Warning: unknown field "spec.foo"`, which kubectl prints);
//   - Strict: refused (400 naming every one, or 422 for a patch);
//   - Ignore: dropped silently.
// The schema is the kind's proto message: what the backend can store.

// fieldProblems lists a JSON object's duplicate fields and its fields
// message md does not have, in kube-apiserver's words
// (`duplicate field "spec.replicas"`, `unknown field "spec.foo"`), and returns
// the object without the unknown ones (a duplicate keeps its last value).
func fieldProblems(body []byte, md protoreflect.MessageDescriptor) (clean []byte, problems []string, err error) {
	var generic map[string]any
	strictErrs, err := kjson.UnmarshalStrict(body, &generic)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range strictErrs {
		problems = append(problems, e.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, err
	}
	unknown := unknownFields(doc, md, "")
	if len(unknown) == 0 && len(problems) == 0 {
		return body, nil, nil
	}
	for _, p := range unknown {
		problems = append(problems, fmt.Sprintf("unknown field %q", p))
	}
	dropFields(doc, md)
	clean, err = json.Marshal(doc)
	return clean, problems, err
}

// dropFields removes from doc the fields md does not have, walking as
// unknownFields does.
func dropFields(doc any, md protoreflect.MessageDescriptor) {
	obj, ok := doc.(map[string]any)
	if !ok || isWellKnown(md) {
		return
	}
	for k, v := range obj {
		fd := fieldByJSONKey(md, k)
		if fd == nil {
			delete(obj, k)
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			switch {
			case fd.IsMap() && fd.MapValue().Message() != nil:
				for _, e := range v {
					dropFields(e, fd.MapValue().Message())
				}
			case !fd.IsMap() && !fd.IsList() && fd.Message() != nil:
				dropFields(v, fd.Message())
			}
		case []any:
			if fd.IsList() && fd.Message() != nil {
				for _, e := range v {
					dropFields(e, fd.Message())
				}
			}
		}
	}
}

// fieldValidationDirective is the request's fieldValidation (Warn by default).
func fieldValidationDirective(r *http.Request) string {
	if v := r.URL.Query().Get("fieldValidation"); v != "" {
		return v
	}
	return metav1.FieldValidationWarn
}

// checkFieldValidation refuses an unsupported fieldValidation value with
// kube-apiserver's 422 on the request's options kind.
func checkFieldValidation(r *http.Request, optionsKind string) error {
	if errs := metavalidation.ValidateFieldValidation(field.NewPath("fieldValidation"), r.URL.Query().Get("fieldValidation")); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: optionsKind}, "", errs)
	}
	return nil
}

// addWarnings adds Warning headers as kube-apiserver writes them (299, agent "-").
func addWarnings(h http.Header, warnings []string) {
	for _, w := range warnings {
		h.Add("Warning", "299 - "+strconv.Quote(w))
	}
}

// validateFields applies fieldValidation to every create (POST) and update
// (PUT) of a kind whose message the gateway knows: the body that goes on has
// no unknown fields. A PATCH validates the object it builds (patchHandler).
func (g *gateway) validateFields(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			next.ServeHTTP(w, r)
			return
		}
		md, ok := g.bodySchema(r)
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if !ok || (mt != mimeJSON && mt != mimeYAML && mt != mimeXYAML && mt != "") {
			next.ServeHTTP(w, r)
			return
		}
		optionsKind := "CreateOptions"
		if r.Method == http.MethodPut {
			optionsKind = "UpdateOptions"
		}
		if err := checkFieldValidation(r, optionsKind); err != nil {
			g.writeAPIStatus(w, r, err)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("error reading request body: %v", err)))
			return
		}
		directive := fieldValidationDirective(r)
		var problems []string
		if mt == mimeYAML || mt == mimeXYAML {
			j, err := yaml.YAMLToJSONStrict(body)
			if err != nil {
				// A duplicate key, or not YAML at all (left to the decoder to report).
				if j, err = yaml.YAMLToJSON(body); err == nil {
					problems = append(problems, yamlDuplicates(body)...)
				}
			}
			if err == nil {
				body, mt = j, mimeJSON
				r.Header.Set("Content-Type", mimeJSON)
			}
		}
		if mt != mimeYAML && mt != mimeXYAML && len(bytes.TrimSpace(body)) > 0 {
			if clean, found, err := fieldProblems(body, md); err == nil {
				problems = append(problems, found...)
				if directive != metav1.FieldValidationStrict {
					body = clean
				}
			}
		}
		if len(problems) > 0 {
			switch directive {
			case metav1.FieldValidationStrict:
				kind := string(md.Name())
				g.writeAPIStatus(w, r, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: strict decoding error: %s",
					kind, versionOf(body), kind, strings.Join(problems, ", "))))
				return
			case metav1.FieldValidationWarn:
				addWarnings(w.Header(), problems)
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Del("Content-Length")
		next.ServeHTTP(w, r)
	})
}

// yamlDuplicates reports a YAML document's duplicate keys as the YAML decoder
// words them (`line 7: key "replicas" already set in map`).
func yamlDuplicates(body []byte) []string {
	_, err := yaml.YAMLToJSONStrict(body)
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, prefix := range []string{"error converting YAML to JSON: yaml: unmarshal errors:\n", "yaml: unmarshal errors:\n"} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	var out []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// versionOf is the version of a JSON object's apiVersion ("v1" if none).
func versionOf(body []byte) string {
	var tm struct {
		APIVersion string `json:"apiVersion"`
	}
	_ = json.Unmarshal(body, &tm)
	if tm.APIVersion == "" {
		return "v1"
	}
	return tm.APIVersion[strings.LastIndex(tm.APIVersion, "/")+1:]
}

// bodySchema is the message a write's body decodes into: the schema of the
// patch route of its resource (the same message on the collection and the
// object's path; status has the object's, scale the Scale).
func (g *gateway) bodySchema(r *http.Request) (protoreflect.MessageDescriptor, bool) {
	info := parseRequestInfo(r)
	if !info.isResourceRequest {
		return nil, false
	}
	md, ok := g.schemas[resourceKey(info)]
	return md, ok
}

// resourceKey names a resource[/subresource] of a group/version.
func resourceKey(info requestInfo) string {
	k := info.group + "/" + info.version + "/" + info.resource
	if info.subresource != "" {
		k += "/" + info.subresource
	}
	return k
}

// bodySchemas indexes the patch routes' messages by resource.
func bodySchemas(routes []patchRoute) map[string]protoreflect.MessageDescriptor {
	out := map[string]protoreflect.MessageDescriptor{}
	for _, rt := range routes {
		path := strings.NewReplacer("{namespace}", "ns", "{name}", "name").Replace(rt.pattern)
		if strings.Contains(path, "{") {
			continue
		}
		info := parseRequestInfo(&http.Request{Method: http.MethodPut, URL: &url.URL{Path: path}})
		if info.isResourceRequest {
			out[resourceKey(info)] = rt.schema
		}
	}
	return out
}

// patchedFieldProblems applies fieldValidation to a non-apply PATCH, as
// kube-apiserver's patchers do: the patch's duplicate fields and the patched
// object's unknown fields are problems; Strict refuses them (422 on "patch"),
// Warn returns them as warnings; the object goes on without the unknown fields.
func patchedFieldProblems(r *http.Request, patchType string, patch, patched []byte, md protoreflect.MessageDescriptor) (clean []byte, warnings []string, err error) {
	directive := fieldValidationDirective(r)
	if directive == metav1.FieldValidationIgnore {
		clean, _, err := fieldProblems(patched, md)
		if err != nil {
			return patched, nil, nil // the write reports it
		}
		return clean, nil, nil
	}
	var problems []string
	var target any = &map[string]any{}
	prefix := ""
	if patchType == jsonPatchType {
		target, prefix = &[]any{}, "json patch "
	}
	if strictErrs, err := kjson.UnmarshalStrict(patch, target); err == nil {
		for _, e := range strictErrs {
			problems = append(problems, prefix+e.Error())
		}
	}
	clean, found, err := fieldProblems(patched, md)
	if err != nil {
		return patched, nil, nil
	}
	problems = append(problems, found...)
	if len(problems) == 0 {
		return clean, nil, nil
	}
	if directive == metav1.FieldValidationStrict {
		errs := make([]error, len(problems))
		for i, p := range problems {
			errs[i] = errors.New(p)
		}
		return nil, nil, apierrors.NewInvalid(schema.GroupKind{}, "", field.ErrorList{
			field.Invalid(field.NewPath("patch"), string(patched), runtime.NewStrictDecodingError(errs).Error()),
		})
	}
	return clean, problems, nil
}
