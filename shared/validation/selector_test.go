package validation

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

var selPath = field.NewPath("spec", "selector")

func TestValidateLabelSelector(t *testing.T) {
	tests := map[string]struct {
		sel  string
		want []string
	}{
		"nil-like empty": {sel: `{}`},
		"valid":          {sel: `{"matchLabels":{"app":"nginx"},"matchExpressions":[{"key":"tier","operator":"In","values":["a"]},{"key":"canary","operator":"DoesNotExist"}]}`},
		"bad operator": {
			sel:  `{"matchExpressions":[{"key":"a","operator":"Gt","values":["1"]}]}`,
			want: []string{`spec.selector.matchExpressions[0].operator: Invalid value: "Gt": not a valid selector operator`},
		},
		"In without values": {
			sel:  `{"matchExpressions":[{"key":"a","operator":"In"}]}`,
			want: []string{"spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"},
		},
		"Exists with values": {
			sel:  `{"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]}`,
			want: []string{"spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"},
		},
		"bad values and labels": {
			sel: `{"matchLabels":{"app":"a b"},"matchExpressions":[{"key":"a","operator":"NotIn","values":["ok","not ok"]}]}`,
			want: []string{
				`spec.selector.matchLabels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
				`spec.selector.matchExpressions[0].values[1]: Invalid value: "not ok": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateLabelSelector(unmarshal(t, tc.sel, &corev1.LabelSelector{}), selPath), tc.want)
		})
	}
	checkErrs(t, ValidateLabelSelector(nil, selPath), nil)
}

func TestValidateNonEmptySelector(t *testing.T) {
	tests := map[string]struct {
		sel  *corev1.LabelSelector
		want []string
	}{
		"nil":   {sel: nil, want: []string{"spec.selector: Required value"}},
		"empty": {sel: &corev1.LabelSelector{}, want: []string{"spec.selector: Invalid value: {}: empty selector is invalid for deployment"}},
		"valid": {sel: &corev1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}},
		"invalid": {
			sel:  &corev1.LabelSelector{MatchExpressions: []*corev1.LabelSelectorRequirement{{Key: "a", Operator: "In"}}},
			want: []string{"spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateNonEmptySelector(tc.sel, "deployment", selPath), tc.want)
		})
	}
}
