package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

func TestValidatePodDisruptionBudget(t *testing.T) {
	tests := map[string]struct {
		pdb  string
		want string // "" valid, else a substring of the errors
	}{
		"minAvailable":           {pdb: `{"metadata":{"name":"p","namespace":"default"},"spec":{"minAvailable":2,"selector":{"matchLabels":{"app":"web"}}}}`},
		"maxUnavailable percent": {pdb: `{"metadata":{"name":"p","namespace":"default"},"spec":{"maxUnavailable":"25%","selector":{}}}`},
		"both set": {pdb: `{"metadata":{"name":"p","namespace":"default"},"spec":{"minAvailable":1,"maxUnavailable":1}}`,
			want: "spec: Invalid value: "},
		"both set: the message": {pdb: `{"metadata":{"name":"p","namespace":"default"},"spec":{"minAvailable":1,"maxUnavailable":1}}`,
			want: "minAvailable and maxUnavailable cannot be both set"},
		"negative minAvailable": {pdb: `{"metadata":{"name":"p","namespace":"default"},"spec":{"minAvailable":-1}}`,
			want: "spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"},
		"over 100%": {pdb: `{"metadata":{"name":"p","namespace":"default"},"spec":{"maxUnavailable":"150%"}}`,
			want: "spec.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%"},
		"not a percentage": {pdb: `{"metadata":{"name":"p","namespace":"default"},"spec":{"maxUnavailable":"ten"}}`,
			want: "spec.maxUnavailable: Invalid value"},
		"a bad selector": {pdb: `{"metadata":{"name":"p","namespace":"default"},"spec":{"minAvailable":1,"selector":{"matchExpressions":[{"key":"a","operator":"Near"}]}}}`,
			want: "spec.selector.matchExpressions[0].operator"},
		"an unknown eviction policy": {pdb: `{"metadata":{"name":"p","namespace":"default"},"spec":{"minAvailable":1,"unhealthyPodEvictionPolicy":"Sometimes"}}`,
			want: `spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported values: "AlwaysAllow", "IfHealthyBudget"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := &policyv1.PodDisruptionBudget{}
			if err := protojson.Unmarshal([]byte(tc.pdb), p); err != nil {
				t.Fatal(err)
			}
			got := ValidatePodDisruptionBudget(p, nil, true).ToAggregate()
			switch {
			case tc.want == "" && got != nil:
				t.Fatalf("rejected: %v", got)
			case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
				t.Fatalf("errors %v, want %q", got, tc.want)
			}
		})
	}
}
