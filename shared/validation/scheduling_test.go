package validation

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func int64p(v int64) *int64 { return &v }

func TestValidateTolerations(t *testing.T) {
	p := field.NewPath("spec", "tolerations")
	tests := map[string]struct {
		tols []*corev1.Toleration
		want []string
	}{
		"valid": {tols: []*corev1.Toleration{
			{Key: "node-role.kubernetes.io/control-plane", Effect: "NoSchedule"},
			{Key: "k", Operator: "Equal", Value: "v", Effect: "PreferNoSchedule"},
			{Key: "k", Operator: "Exists"},
			{Operator: "Exists"},
			{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: int64p(300)},
		}},
		"exists with value": {
			tols: []*corev1.Toleration{{Key: "k", Operator: "Exists", Value: "v"}},
			want: []string{`spec.tolerations[0].operator: Invalid value: "v": value must be empty when ` + "`operator`" + ` is 'Exists'`},
		},
		"empty key needs Exists": {
			tols: []*corev1.Toleration{{Operator: "Equal", Value: "v"}},
			want: []string{"spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\""},
		},
		"tolerationSeconds needs NoExecute": {
			tols: []*corev1.Toleration{{Key: "k", Effect: "NoSchedule", TolerationSeconds: int64p(10)}},
			want: []string{"spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"},
		},
		"bad operator and effect": {
			tols: []*corev1.Toleration{{Key: "k", Operator: "Gt", Effect: "NoRun"}},
			want: []string{
				`spec.tolerations[0].operator: Unsupported value: "Gt": supported values: "Equal", "Exists"`,
				`spec.tolerations[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
			},
		},
		"bad key and value": {
			tols: []*corev1.Toleration{{Key: "bad key", Value: "bad value"}},
			want: []string{
				`spec.tolerations[0].key: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
				`spec.tolerations[0].operator: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateTolerations(tc.tols, p), tc.want)
		})
	}
}

func TestValidateTaints(t *testing.T) {
	p := field.NewPath("spec", "taints")
	tests := map[string]struct {
		taints []*corev1.Taint
		want   []string
	}{
		"valid": {taints: []*corev1.Taint{
			{Key: "node-role.kubernetes.io/control-plane", Effect: "NoSchedule"},
			{Key: "node-role.kubernetes.io/control-plane", Effect: "NoExecute"},
			{Key: "dedicated", Value: "gpu", Effect: "PreferNoSchedule"},
		}},
		"effect required": {
			taints: []*corev1.Taint{{Key: "k"}},
			want:   []string{"spec.taints[0].effect: Required value"},
		},
		"bad effect, key, value": {
			taints: []*corev1.Taint{{Key: "", Value: "a b", Effect: "NoRun"}},
			want: []string{
				`spec.taints[0].key: Invalid value: "": name part must be non-empty`,
				`spec.taints[0].key: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
				`spec.taints[0].value: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
				`spec.taints[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
			},
		},
		"duplicate key and effect": {
			taints: []*corev1.Taint{{Key: "k", Value: "a", Effect: "NoSchedule"}, {Key: "k", Value: "b", Effect: "NoSchedule"}},
			want:   []string{`spec.taints[1]: Duplicate value: {"key":"k","value":"b","effect":"NoSchedule"}: taints must be unique by key and effect pair`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateTaints(tc.taints, p), tc.want)
		})
	}
	checkErrs(t, ValidateTaint(&corev1.Taint{Key: "k", Effect: "NoExecute"}, p.Index(0)), nil)
}

func TestValidateNodeAffinity(t *testing.T) {
	tests := map[string]struct {
		spec string
		want []string
	}{
		"no terms": {
			spec: `{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{}}}}`,
			want: []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"},
		},
		"operators": {
			spec: `{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[
				{"key":"a","operator":"In"},{"key":"b","operator":"Exists","values":["x"]},{"key":"c","operator":"Gt","values":["1","2"]},{"key":"d","operator":"Near"}],
				"matchFields":[{"key":"metadata.name","operator":"In","values":["n1","n2"]},{"key":"spec.x","operator":"Exists"}]}]}}}}`,
			want: []string{
				"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
				"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
				"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'",
				`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[3].operator: Invalid value: "Near": not a valid selector operator`,
				"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values: Required value: must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
				`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[1].operator: Invalid value: "Exists": not a valid selector operator`,
				`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[1].key: Invalid value: "spec.x": not a valid field selector key`,
			},
		},
		"preferred weight": {
			spec: `{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":0,"preference":{"matchExpressions":[{"key":"a","operator":"In","values":["not valid!"]}]}}]}}}`,
			want: []string{"spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := unmarshal(t, tc.spec, &corev1.PodSpec{})
			checkErrs(t, validateAffinity(spec.GetAffinity(), field.NewPath("spec", "affinity")), tc.want)
		})
	}
}
