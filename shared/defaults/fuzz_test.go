package defaults

import (
	"math"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

// FuzzQuantity: a quantity (string or number Value) parses or fails without
// panicking; a parsed one renders canonically, and the rendering parses back to
// the same quantity and the same rendering (NormalizeQuantities is idempotent).
func FuzzQuantity(f *testing.F) {
	for _, s := range []string{"100m", "1Gi", " 2 ", "0.5", "1e3", "1E3", "5Mi", "1.5Gi", "-1", "9223372036854775807",
		"1Ei", "0.0001", "1e-9", "123456789012345678901234567890", ".5", "1.", "+1", "1ki", "", "Gi", "1e", "0x10"} {
		f.Add(s, 0.0)
	}
	for _, n := range []float64{1, 0.5, 1e300, -3, 1e-300, math.MaxInt64, 0.1} {
		f.Add("", n)
	}
	f.Fuzz(func(t *testing.T, s string, n float64) {
		for _, v := range []*structpb.Value{structpb.NewStringValue(s), structpb.NewNumberValue(n)} {
			milli, value := MilliValue(v), Value(v)
			q, err := Quantity(v)
			if err != nil {
				continue
			}
			if q.Sign() > 0 && (milli <= 0 || value <= 0) || q.Sign() < 0 && (milli > 0 || value > 0) {
				t.Fatalf("%v (%s): MilliValue %d, Value %d", v.AsInterface(), q.String(), milli, value)
			}
			canon := QuantityValue(q)
			q2, err := Quantity(canon)
			if err != nil {
				t.Fatalf("%v parses as %v, whose rendering %q does not parse: %v", v.AsInterface(), q.String(), canon.GetStringValue(), err)
			}
			if q2.Cmp(q) != 0 {
				t.Fatalf("%v: %q parses back as %q", v.AsInterface(), q.String(), q2.String())
			}
			if got := QuantityValue(q2).GetStringValue(); got != canon.GetStringValue() {
				t.Fatalf("%v: rendering is not stable: %q then %q", v.AsInterface(), canon.GetStringValue(), got)
			}
			m := map[string]*structpb.Value{"cpu": v}
			NormalizeQuantities(m)
			once := m["cpu"].GetStringValue()
			NormalizeQuantities(m)
			if m["cpu"].GetStringValue() != once {
				t.Fatalf("NormalizeQuantities is not idempotent: %q then %q", once, m["cpu"].GetStringValue())
			}
		}
	})
}
