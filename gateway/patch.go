package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"sigs.k8s.io/yaml"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Patch media types (k8s.io/apimachinery/pkg/types.PatchType).
const (
	jsonPatchType           = "application/json-patch+json"
	mergePatchType          = "application/merge-patch+json"
	strategicMergePatchType = "application/strategic-merge-patch+json"
)

const (
	// maxPatchAttempts bounds the read-patch-write loop when the write meets a
	// concurrent update (kube-apiserver's GuaranteedUpdate retries the same way).
	maxPatchAttempts = 5
	// maxJSONPatchOperations is kube-apiserver's cap on a JSON patch.
	maxJSONPatchOperations = 10000
	// maxJSONPatchCopyBytes caps the growth a JSON patch's "copy" operations may
	// cause (kube-apiserver's JSONPatchMaxCopyBytes, 3 MiB): without it a patch of
	// a few dozen copies of a list into itself doubles the object each time, and
	// one small request takes seconds of CPU and gigabytes of memory.
	maxJSONPatchCopyBytes = 3 << 20
)

func init() {
	// The library's limit is a package variable; the gateway is its only user here.
	jsonpatch.AccumulatedCopySizeLimit = maxJSONPatchCopyBytes
}

// patchRoute is an object path that has a GET and a PUT, and so a PATCH.
type patchRoute struct {
	pattern string
	// schema is the object's message: it gives the strategic merge patch its
	// list merge keys.
	schema protoreflect.MessageDescriptor
}

// scaleDesc is the autoscaling/v1 Scale of every /scale subresource.
var scaleDesc = (&corev1.Scale{}).ProtoReflect().Descriptor()

// patchHandler serves PATCH on rt generically, through the REST surface itself:
// GET the object, apply the patch to its JSON, PUT the result with the
// resourceVersion it was read at. A write that loses a race (409 Conflict) is
// retried from a fresh read, unless the patch itself carried a resourceVersion,
// which makes it a precondition as in Kubernetes. A patch that changes nothing
// answers the object without writing.
func (g *gateway) patchHandler(rt patchRoute) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch mt {
		case jsonPatchType, mergePatchType, strategicMergePatchType, applyPatchType:
		default:
			g.writeError(w, r, newAPIError(ReasonUnsupportedMediaType, fmt.Sprintf(
				"the body of the request was in an unknown format - accepted media types include: %s, %s, %s, %s",
				jsonPatchType, mergePatchType, strategicMergePatchType, applyPatchType)))
			return
		}
		patch, err := io.ReadAll(r.Body)
		if err != nil {
			g.writeError(w, r, newAPIError(ReasonBadRequest, fmt.Sprintf("error reading patch: %v", err)))
			return
		}
		if mt == applyPatchType {
			g.applyHandler(w, r, patch)
			return
		}
		if err := checkPatchOptions(r, mt); err != nil {
			g.writeAPIStatus(w, r, err)
			return
		}
		warned := false
		if err := checkPatch(mt, patch); err != nil {
			g.writeError(w, r, err)
			return
		}
		fm, info, gvk, managed, _ := g.fieldManagerOf(r)
		scale := info.subresource == "scale"
		for attempt := 1; ; attempt++ {
			cur := g.inProcess(r.Context(), r, http.MethodGet, nil)
			if cur.code != http.StatusOK {
				g.relay(w, r, cur)
				return
			}
			readVersion := resourceVersion(cur.body)
			patched, err := applyPatch(mt, cur.body, patch, rt.schema)
			if err != nil {
				g.writeError(w, r, err)
				return
			}
			patched, warnings, err := patchedFieldProblems(r, mt, patch, patched, rt.schema)
			if err != nil {
				g.writeAPIStatus(w, r, err)
				return
			}
			if !warned {
				addWarnings(w.Header(), warnings)
				warned = true
			}
			precondition := false
			switch v := resourceVersion(patched); {
			case v == "":
				if patched, err = setResourceVersion(patched, readVersion); err != nil {
					g.writeError(w, r, newAPIError(ReasonBadRequest, err.Error()))
					return
				}
			case v != readVersion:
				precondition = true
			}
			if jsonEqual(cur.body, patched) {
				g.relay(w, r, cur)
				return
			}
			switch {
			case scale:
				patched = g.recordScale(r, cur.body, patched)
			case managed:
				patched = g.recordUpdate(r, fm, gvk, cur.body, patched)
			}
			res := g.inProcess(r.Context(), r, http.MethodPut, patched)
			if res.code == http.StatusConflict && statusReason(res.body) == ReasonConflict &&
				!precondition && attempt < maxPatchAttempts {
				g.log.DebugContext(r.Context(), "patch conflict, retrying", "path", r.URL.Path, "attempt", attempt)
				continue
			}
			g.relay(w, r, res)
			return
		}
	}
}

// checkPatch rejects a patch document that cannot be decoded, before any read.
func checkPatch(mt string, patch []byte) error {
	if mt == jsonPatchType {
		ops, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return newAPIError(ReasonBadRequest, err.Error())
		}
		if len(ops) > maxJSONPatchOperations {
			return newAPIError(ReasonRequestEntityTooLarge, fmt.Sprintf(
				"The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(ops)))
		}
		return checkJSONPatchValues(ops)
	}
	var obj map[string]any
	if err := json.Unmarshal(patch, &obj); err != nil || obj == nil {
		if err == nil {
			err = errors.New("patch is not a JSON object")
		}
		return newAPIError(ReasonBadRequest, fmt.Sprintf("error decoding patch: %v", err))
	}
	return nil
}

// checkJSONPatchValues rejects an add, replace or test operation without a
// "value" (RFC 6902 requires one), which json-patch v4 dereferences unchecked:
// [{"op":"replace","path":""}] panicked.
func checkJSONPatchValues(ops jsonpatch.Patch) error {
	for i, op := range ops {
		switch kind := op.Kind(); kind {
		case "add", "replace", "test":
			if _, ok := op["value"]; !ok {
				return newAPIError(ReasonBadRequest, fmt.Sprintf("%s operation %d does not apply: it has no value", kind, i))
			}
		}
	}
	return nil
}

// applyPatch applies a patch of media type mt to the JSON object cur.
func applyPatch(mt string, cur, patch []byte, schema protoreflect.MessageDescriptor) ([]byte, error) {
	switch mt {
	case jsonPatchType:
		ops, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, newAPIError(ReasonBadRequest, err.Error())
		}
		if err := checkJSONPatchValues(ops); err != nil {
			return nil, err
		}
		out, err := ops.Apply(cur)
		if err != nil {
			// kube-apiserver: NewGenericServerResponse(422, ...)
			return nil, newAPIError(ReasonInvalid, err.Error())
		}
		return out, nil
	case mergePatchType:
		out, err := jsonpatch.MergePatch(cur, patch)
		if err != nil {
			return nil, newAPIError(ReasonBadRequest, err.Error())
		}
		return out, nil
	case strategicMergePatchType:
		out, err := strategicMergePatch(cur, patch, schema)
		if err != nil {
			return nil, newAPIError(ReasonBadRequest, err.Error())
		}
		return out, nil
	}
	return nil, newAPIError(ReasonUnsupportedMediaType, "unsupported patch type "+mt)
}

type objectMeta struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
}

func resourceVersion(obj []byte) string {
	var m objectMeta
	_ = json.Unmarshal(obj, &m)
	return m.Metadata.ResourceVersion
}

func setResourceVersion(obj []byte, rv string) ([]byte, error) {
	if rv == "" {
		return obj, nil
	}
	p, err := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": rv}})
	if err != nil {
		return nil, err
	}
	return jsonpatch.MergePatch(obj, p)
}

func statusReason(body []byte) string {
	var s struct {
		Kind   string `json:"kind"`
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(body, &s)
	if s.Kind != "Status" {
		return ""
	}
	return s.Reason
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x) // encoding/json sorts map keys: a canonical form
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// response is an answer collected from an in-process request.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// bufferedWriter collects an in-process answer.
type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

// inProcess sends method on orig's path (and query) through the generated
// routes, as JSON, and collects the answer.
func (g *gateway) inProcess(ctx context.Context, orig *http.Request, method string, body []byte) response {
	u := &url.URL{Path: orig.URL.Path, RawQuery: orig.URL.RawQuery}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		st := statusFromError(newAPIError(ReasonInternalError, err.Error()))
		b, _ := g.json.Marshal(st)
		return response{code: int(st.GetCode()), body: b}
	}
	req.Header = orig.Header.Clone()
	req.Header.Set("Accept", mimeJSON)
	req.Header.Set("Content-Type", mimeJSON)
	req.Header.Del("Content-Length")
	req.RemoteAddr = orig.RemoteAddr
	bw := &bufferedWriter{header: http.Header{}}
	g.mux.ServeHTTP(bw, req)
	if bw.code == 0 {
		bw.code = http.StatusOK
	}
	return response{code: bw.code, header: bw.header, body: bw.body.Bytes()}
}

// relay answers an in-process JSON answer to the client, as YAML if asked.
func (g *gateway) relay(w http.ResponseWriter, r *http.Request, res response) {
	body, ct := res.body, mimeJSON
	if g.outbound(r) == g.yaml {
		if y, err := yaml.JSONToYAML(body); err == nil {
			body, ct = y, mimeYAML
		}
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(res.code)
	_, _ = w.Write(body)
}
