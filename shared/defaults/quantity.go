package defaults

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Quantity parses a quantity carried as a google.protobuf.Value the way
// Kubernetes decodes a resource.Quantity from JSON: a string ("100m", "1Gi",
// " 2 ") or a number (1, 0.5) is parsed with resource.ParseQuantity, null (or a
// nil value) is the zero quantity, anything else fails with
// resource.ErrFormatWrong.
//
// A quantity that resource.ParseQuantity reads but cannot render back (an
// integer of 22 or more digits: "100000000000000000000000000000" renders as
// "100") is an error rather than a value that changes when it is stored.
func Quantity(v *structpb.Value) (resource.Quantity, error) {
	q, err := parseValue(v)
	if err != nil {
		return q, err
	}
	// The canonical form, parsed again, is the quantity returned: "e7700000" is
	// a zero scaled by 10^7700000, which makes every comparison with it take
	// seconds; its canonical form is "0".
	// The canonical form must be in range too ("100E1000" is "1e1002").
	canon := q.String()
	if !inRange(canon) {
		return resource.Quantity{}, errOutOfRange
	}
	back, err := resource.ParseQuantity(canon)
	if err != nil {
		return resource.Quantity{}, errOutOfRange
	}
	if q.Sign() == 0 {
		if back.Sign() != 0 {
			return resource.Quantity{}, errOutOfRange
		}
		return back, nil
	}
	// Cmp turns its receiver's representation into an inf.Dec, on which
	// Value rounds negative quantities to the wrong sign (-30m to 1): compare a copy.
	if c := back.DeepCopy(); c.Cmp(q) != 0 {
		return resource.Quantity{}, errOutOfRange
	}
	return back, nil
}

// errOutOfRange is Kubernetes' wording for a number it cannot represent.
var errOutOfRange = errors.New("quantity is out of range: " + resource.ErrNumeric.Error())

func parseValue(v *structpb.Value) (resource.Quantity, error) {
	if v == nil {
		return resource.Quantity{}, nil
	}
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return resource.Quantity{}, nil
	case *structpb.Value_StringValue:
		str := strings.TrimSpace(k.StringValue)
		if !inRange(str) {
			return resource.Quantity{}, errOutOfRange
		}
		return resource.ParseQuantity(str)
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return resource.Quantity{}, resource.ErrFormatWrong
		}
		// The number as a JSON encoder writes it (1e+21, not 22 digits:
		// resource.ParseQuantity misreads integers of more than 21 digits,
		// "1000000000000000000000" as 1), the text Kubernetes parses.
		return resource.ParseQuantity(jsonNumber(f))
	default:
		return resource.Quantity{}, resource.ErrFormatWrong
	}
}

// Bounds on what resource.ParseQuantity is given: its work grows with the
// exponent and the digits ("1e-7700000" took four seconds), and no resource
// needs more than these.
const (
	maxQuantityLength   = 128
	maxQuantityExponent = 1000
)

// inRange reports whether s is short enough and its decimal exponent (the
// suffix e<n> or E<n>) small enough to be parsed at all.
func inRange(s string) bool {
	if len(s) > maxQuantityLength {
		return false
	}
	i := strings.LastIndexAny(s, "eE")
	if i < 0 {
		return true
	}
	exp, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return true // not an exponent: ParseQuantity says what is wrong
	}
	return exp >= -maxQuantityExponent && exp <= maxQuantityExponent
}

// jsonNumber formats f as encoding/json does: plain decimal digits between
// 1e-6 and 1e21, an exponent outside (1e+21, 1e-07).
func jsonNumber(f float64) string {
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// MilliValue is the quantity in thousandths (CPU millicores); 0 when v does
// not parse (validation rejects such values first).
func MilliValue(v *structpb.Value) int64 {
	q, err := Quantity(v)
	if err != nil {
		return 0
	}
	return saturated(q, 1000, q.MilliValue())
}

// saturated is value (q in unit, computed before q is compared, see Quantity)
// unless q times unit is beyond int64, where resource.Quantity's MilliValue and
// Value overflow (100Ei is -1000 millicores): then the int64 bound of q's sign.
func saturated(q resource.Quantity, unit, value int64) int64 {
	if q.CmpInt64(math.MaxInt64/unit) > 0 {
		return math.MaxInt64
	}
	if q.CmpInt64(math.MinInt64/unit) < 0 {
		return math.MinInt64
	}
	return value
}

// Value is the quantity rounded up to an integer (bytes for memory); 0 when v
// does not parse.
func Value(v *structpb.Value) int64 {
	q, err := Quantity(v)
	if err != nil {
		return 0
	}
	return saturated(q, 1, q.Value())
}

// QuantityValue renders q in Kubernetes' canonical form as a string Value
// ("500m", "1Gi", "1").
func QuantityValue(q resource.Quantity) *structpb.Value {
	return structpb.NewStringValue(q.String())
}

// ResourceList parses a map of quantities (limits, requests, allocatable).
// The error names the first bad key in sorted order.
func ResourceList(m map[string]*structpb.Value) (map[string]resource.Quantity, error) {
	out := make(map[string]resource.Quantity, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q, err := Quantity(m[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = q
	}
	return out, nil
}

// NormalizeQuantities rewrites every parsable quantity of m in canonical
// string form (1 -> "1", 0.5 -> "500m", "1000m" -> "1"), as Kubernetes shows
// them on read. Values that do not parse are left for validation to reject.
func NormalizeQuantities(m map[string]*structpb.Value) {
	for k, v := range m {
		if v == nil {
			continue
		}
		q, err := Quantity(v)
		if err != nil {
			continue
		}
		m[k] = QuantityValue(q)
	}
}
