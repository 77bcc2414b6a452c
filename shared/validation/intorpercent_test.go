package validation

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestIntOrPercent(t *testing.T) {
	tests := map[string]struct {
		v       *structpb.Value
		total   int
		roundUp bool
		want    int
		wantErr bool
	}{
		"int":              {v: structpb.NewNumberValue(3), total: 10, want: 3},
		"int beyond total": {v: structpb.NewNumberValue(30), total: 10, want: 30},
		"25% of 10 up":     {v: structpb.NewStringValue("25%"), total: 10, roundUp: true, want: 3},
		"25% of 10 down":   {v: structpb.NewStringValue("25%"), total: 10, roundUp: false, want: 2},
		"0%":               {v: structpb.NewStringValue("0%"), total: 10, roundUp: true, want: 0},
		"100%":             {v: structpb.NewStringValue("100%"), total: 7, want: 7},
		"string without %": {v: structpb.NewStringValue("5"), total: 10, wantErr: true},
		"garbage":          {v: structpb.NewStringValue("x%"), total: 10, wantErr: true},
		"fraction":         {v: structpb.NewNumberValue(1.5), total: 10, wantErr: true},
		"bool":             {v: structpb.NewBoolValue(true), total: 10, wantErr: true},
		"nil":              {v: nil, total: 10, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := IntOrPercent(tc.v, tc.total, tc.roundUp)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("IntOrPercent = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestValidateIntOrPercent(t *testing.T) {
	p := field.NewPath("spec", "strategy", "rollingUpdate", "maxSurge")
	tests := map[string]struct {
		v         *structpb.Value
		want      []string
		want100   []string
		wantValue int
	}{
		"nil":      {v: nil},
		"zero":     {v: structpb.NewNumberValue(0)},
		"int":      {v: structpb.NewNumberValue(2), wantValue: 2},
		"percent":  {v: structpb.NewStringValue("25%"), wantValue: 25},
		"negative": {v: structpb.NewNumberValue(-1), wantValue: -1, want: []string{"spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"}},
		"no percent sign": {v: structpb.NewStringValue("25"), wantValue: 25,
			want: []string{`spec.strategy.rollingUpdate.maxSurge: Invalid value: "25": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`}},
		"fraction": {v: structpb.NewNumberValue(0.5),
			want: []string{"spec.strategy.rollingUpdate.maxSurge: Invalid value: 0.5: must be an integer or percentage (e.g '5%')"}},
		"over 100": {v: structpb.NewStringValue("150%"), wantValue: 150,
			want100: []string{`spec.strategy.rollingUpdate.maxSurge: Invalid value: "150%": must not be greater than 100%`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkErrs(t, ValidateIntOrPercent(tc.v, p), tc.want)
			checkErrs(t, ValidateNotMoreThan100Percent(tc.v, p), tc.want100)
			if got := IntOrPercentValue(tc.v); got != tc.wantValue {
				t.Errorf("IntOrPercentValue = %d, want %d", got, tc.wantValue)
			}
		})
	}
}
