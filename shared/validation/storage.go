package validation

import (
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/defaults"
)

// Access modes of PersistentVolumes and PersistentVolumeClaims.
const (
	ReadWriteOnce    = "ReadWriteOnce"
	ReadOnlyMany     = "ReadOnlyMany"
	ReadWriteMany    = "ReadWriteMany"
	ReadWriteOncePod = "ReadWriteOncePod"
)

// supportedAccessModes in the sorted order Kubernetes lists them in its
// "supported values" message.
var supportedAccessModes = []string{ReadOnlyMany, ReadWriteMany, ReadWriteOnce, ReadWriteOncePod}

// ValidateAccessModes checks the access modes of a PersistentVolume or
// PersistentVolumeClaim spec as core validation does: each one is a known
// mode (NotSupported otherwise), and ReadWriteOncePod comes alone ("may not
// use ReadWriteOncePod with other access modes"). An empty list is valid
// here: PVs and PVCs word their "required" error differently, so callers
// check it.
func ValidateAccessModes(modes []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	foundRWOP, foundOther := false, false
	for _, mode := range modes {
		switch mode {
		case ReadWriteOncePod:
			foundRWOP = true
		case ReadWriteOnce, ReadOnlyMany, ReadWriteMany:
			foundOther = true
		default:
			allErrs = append(allErrs, field.NotSupported(fldPath, mode, supportedAccessModes))
		}
	}
	if foundRWOP && foundOther {
		allErrs = append(allErrs, field.Forbidden(fldPath, "may not use ReadWriteOncePod with other access modes"))
	}
	return allErrs
}

// ValidatePositiveQuantity is core's ValidatePositiveQuantityValue on a
// quantity carried as a Value: it must parse (the parse error otherwise, as
// the container resource checks report it) and be greater than zero ("must
// be greater than zero", the value shown in canonical form). A PVC's storage
// request and a PV's capacity use it.
func ValidatePositiveQuantity(v *structpb.Value, fldPath *field.Path) field.ErrorList {
	q, err := defaults.Quantity(v)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath, v.AsInterface(), err.Error())}
	}
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), isNotPositiveErrorMsg)}
	}
	return nil
}
