package validation

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const intOrPercentErrorMsg = "must be an integer or percentage (e.g '5%')"

// errNotIntOrString is returned for a Value that is neither an integral
// number nor a string.
var errNotIntOrString = errors.New(intOrPercentErrorMsg)

// ToIntOrString converts an IntOrString carried as a google.protobuf.Value
// (a JSON number or string) into intstr.IntOrString. A fractional or
// out-of-int32 number, null, bool, object or list is an error.
func ToIntOrString(v *structpb.Value) (intstr.IntOrString, error) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
			return intstr.IntOrString{}, errNotIntOrString
		}
		return intstr.FromInt32(int32(f)), nil
	case *structpb.Value_StringValue:
		return intstr.FromString(k.StringValue), nil
	default:
		return intstr.IntOrString{}, errNotIntOrString
	}
}

// IntOrPercent is intstr.GetScaledValueFromIntOrPercent on a Value: an
// integer is returned as is, "N%" is N% of total rounded up or down. A
// string without "%" or a malformed value is an error.
func IntOrPercent(v *structpb.Value, total int, roundUp bool) (int, error) {
	if v == nil {
		return 0, errors.New("nil value for IntOrString")
	}
	is, err := ToIntOrString(v)
	if err != nil {
		return 0, err
	}
	return intstr.GetScaledValueFromIntOrPercent(&is, total, roundUp)
}

// IntOrPercentValue is the number of an IntOrString without scaling (5 for
// 5 and for "5%"), 0 when it does not parse; apps validation uses it for
// "maxSurge and maxUnavailable both 0".
func IntOrPercentValue(v *structpb.Value) int {
	is, err := ToIntOrString(v)
	if err != nil {
		return 0
	}
	if is.Type == intstr.Int {
		return is.IntValue()
	}
	// As Kubernetes' getPercentValue: a number out of range is the largest int
	// of its sign (strconv's value with ErrRange), anything else unparsable 0.
	n, _ := strconv.Atoi(strings.TrimSuffix(is.StrVal, "%"))
	return n
}

// IsPercent reports whether v is a string IntOrString ("25%").
func IsPercent(v *structpb.Value) bool {
	_, ok := v.GetKind().(*structpb.Value_StringValue)
	return ok
}

// ValidateIntOrPercent is apps' ValidatePositiveIntOrPercent: an integer >= 0
// or a string "N%" (validation.IsValidPercent). nil is valid (defaulted).
func ValidateIntOrPercent(v *structpb.Value, fldPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	is, err := ToIntOrString(v)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath, v.AsInterface(), intOrPercentErrorMsg)}
	}
	var allErrs field.ErrorList
	switch is.Type {
	case intstr.String:
		for _, msg := range validation.IsValidPercent(is.StrVal) {
			allErrs = append(allErrs, field.Invalid(fldPath, is, msg))
		}
		// Kubernetes accepts any number of digits here, and its controllers then
		// fail to scale the value (strconv.Atoi: value out of range) on every sync.
		if len(allErrs) == 0 && IntOrPercentValue(v) > math.MaxInt32 {
			allErrs = append(allErrs, field.Invalid(fldPath, is, fmt.Sprintf("must not be greater than %d%%", math.MaxInt32)))
		}
	case intstr.Int:
		allErrs = append(allErrs, ValidateNonnegative(int64(is.IntValue()), fldPath)...)
	}
	return allErrs
}

// ValidateNotMoreThan100Percent is apps' IsNotMoreThan100Percent: a
// percentage above 100% is "must not be greater than 100%".
func ValidateNotMoreThan100Percent(v *structpb.Value, fldPath *field.Path) field.ErrorList {
	if v == nil || !IsPercent(v) {
		return nil
	}
	is, _ := ToIntOrString(v)
	if len(validation.IsValidPercent(is.StrVal)) > 0 || IntOrPercentValue(v) <= 100 {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, is, "must not be greater than 100%")}
}
