package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Helpers of the hand-written handlers (the review APIs, events.k8s.io/v1, node
// Leases): a generic object body, NotFound and Invalid Statuses.

// decodeObject reads a JSON (or YAML) object body into a generic map.
func decodeObject(r *http.Request, isYAML bool) (map[string]any, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if isYAML {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, fmt.Errorf("error converting YAML to JSON: %w", err)
		}
		data = j
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("empty body")
	}
	return obj, nil
}

// notFoundError is kube's NotFound: `namespaces "x" not found`.
func notFoundError(group, resource, name string) *apiError {
	qualified := resource
	if group != "" {
		qualified += "." + group
	}
	e := newAPIError(ReasonNotFound, fmt.Sprintf("%s %q not found", qualified, name))
	e.status.Details = &corev1.StatusDetails{Name: name, Group: group, Kind: resource}
	return e
}

// invalidError is kube's NewInvalid: `Kind "name" is invalid: <errors>` with one
// cause per field error.
func invalidError(group, kind, name string, errs field.ErrorList) *apiError {
	qualified := kind
	if group != "" {
		qualified += "." + group
	}
	e := newAPIError(ReasonInvalid, fmt.Sprintf("%s %q is invalid: %v", qualified, name, errs.ToAggregate()))
	d := &corev1.StatusDetails{Name: name, Group: group, Kind: kind}
	for _, fe := range errs {
		d.Causes = append(d.Causes, &corev1.StatusCause{Reason: string(fe.Type), Message: fe.ErrorBody(), Field: fe.Field})
	}
	e.status.Details = d
	return e
}
