package defaults

import (
	"math"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

func TestQuantity(t *testing.T) {
	tests := map[string]struct {
		v         *structpb.Value
		want      string
		wantMilli int64
		wantValue int64
		wantErr   bool
	}{
		"integer number":  {v: structpb.NewNumberValue(1), want: "1", wantMilli: 1000, wantValue: 1},
		"fraction number": {v: structpb.NewNumberValue(0.5), want: "500m", wantMilli: 500, wantValue: 1},
		"large number":    {v: structpb.NewNumberValue(1000), want: "1k", wantMilli: 1000000, wantValue: 1000},
		"millicores":      {v: structpb.NewStringValue("100m"), want: "100m", wantMilli: 100, wantValue: 1},
		"1000m is 1":      {v: structpb.NewStringValue("1000m"), want: "1", wantMilli: 1000, wantValue: 1},
		"binary suffix":   {v: structpb.NewStringValue("1Gi"), want: "1Gi", wantMilli: 1 << 30 * 1000, wantValue: 1 << 30},
		"decimal string":  {v: structpb.NewStringValue("0.5"), want: "500m", wantMilli: 500, wantValue: 1},
		"spaces trimmed":  {v: structpb.NewStringValue(" 2 "), want: "2", wantMilli: 2000, wantValue: 2},
		"negative":        {v: structpb.NewNumberValue(-1), want: "-1", wantMilli: -1000, wantValue: -1},
		"null is zero":    {v: structpb.NewNullValue(), want: "0"},
		"nil is zero":     {v: nil, want: "0"},
		"garbage":         {v: structpb.NewStringValue("abc"), wantErr: true},
		"bad suffix":      {v: structpb.NewStringValue("1Gb"), wantErr: true},
		"bool":            {v: structpb.NewBoolValue(true), wantErr: true},
		"NaN":             {v: structpb.NewNumberValue(math.NaN()), wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			q, err := Quantity(tc.v)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if MilliValue(tc.v) != 0 || Value(tc.v) != 0 {
					t.Errorf("MilliValue/Value of an invalid quantity not 0")
				}
				return
			}
			if got := q.String(); got != tc.want {
				t.Errorf("Quantity = %q, want %q", got, tc.want)
			}
			if got := QuantityValue(q).GetStringValue(); got != tc.want {
				t.Errorf("QuantityValue = %q, want %q", got, tc.want)
			}
			if got := MilliValue(tc.v); got != tc.wantMilli {
				t.Errorf("MilliValue = %d, want %d", got, tc.wantMilli)
			}
			if got := Value(tc.v); got != tc.wantValue {
				t.Errorf("Value = %d, want %d", got, tc.wantValue)
			}
		})
	}
}

func TestResourceListAndNormalize(t *testing.T) {
	m := map[string]*structpb.Value{
		"cpu":    structpb.NewNumberValue(0.25),
		"memory": structpb.NewStringValue("128Mi"),
		"bad":    structpb.NewStringValue("x"),
		"nil":    nil,
	}
	if _, err := ResourceList(m); err == nil || err.Error()[:4] != "bad:" {
		t.Errorf("ResourceList err = %v, want one naming key bad", err)
	}
	NormalizeQuantities(m)
	tests := map[string]struct {
		key  string
		want *structpb.Value
	}{
		"number normalised": {key: "cpu", want: structpb.NewStringValue("250m")},
		"string kept":       {key: "memory", want: structpb.NewStringValue("128Mi")},
		"invalid kept":      {key: "bad", want: structpb.NewStringValue("x")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := m[tc.key]; got.GetStringValue() != tc.want.GetStringValue() {
				t.Errorf("%s = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
	if m["nil"] != nil {
		t.Errorf("nil value replaced")
	}
	delete(m, "bad")
	got, err := ResourceList(m)
	if err != nil {
		t.Fatal(err)
	}
	if c := got["cpu"]; c.MilliValue() != 250 {
		t.Errorf("cpu = %v", c.String())
	}
}
