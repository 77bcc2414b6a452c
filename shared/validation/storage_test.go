package validation

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidateAccessModes(t *testing.T) {
	p := field.NewPath("spec", "accessModes")
	tests := map[string]struct {
		modes []string
		want  []string
	}{
		"none":          {},
		"one":           {modes: []string{"ReadWriteOnce"}},
		"all but RWOP":  {modes: []string{"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"}},
		"RWOP alone":    {modes: []string{"ReadWriteOncePod"}},
		"RWOP and more": {modes: []string{"ReadWriteOncePod", "ReadOnlyMany"}, want: []string{"spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"}},
		"unknown": {modes: []string{"ReadWriteSometimes"},
			want: []string{`spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`}},
		"unknown beside RWOP is not a second mode": {modes: []string{"ReadWriteOncePod", "rwo"},
			want: []string{`spec.accessModes: Unsupported value: "rwo": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateAccessModes(tc.modes, p), tc.want)
		})
	}
}

func TestValidatePositiveQuantity(t *testing.T) {
	p := field.NewPath("spec", "resources").Key("storage")
	tests := map[string]struct {
		v    *structpb.Value
		want []string
	}{
		"1Gi":          {v: structpb.NewStringValue("1Gi")},
		"number":       {v: structpb.NewNumberValue(1024)},
		"fraction":     {v: structpb.NewStringValue("500m")},
		"zero":         {v: structpb.NewStringValue("0"), want: []string{`spec.resources[storage]: Invalid value: "0": must be greater than zero`}},
		"zero number":  {v: structpb.NewNumberValue(0), want: []string{`spec.resources[storage]: Invalid value: "0": must be greater than zero`}},
		"negative":     {v: structpb.NewStringValue("-1Gi"), want: []string{`spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero`}},
		"null is zero": {v: structpb.NewNullValue(), want: []string{`spec.resources[storage]: Invalid value: "0": must be greater than zero`}},
		"garbage": {v: structpb.NewStringValue("lots"),
			want: []string{`spec.resources[storage]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidatePositiveQuantity(tc.v, p), tc.want)
		})
	}
}
