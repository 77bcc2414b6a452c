package server

import "k8s.io/apimachinery/pkg/util/validation/field"

func fieldErrs(path string, value any, detail string) field.ErrorList {
	return field.ErrorList{field.Invalid(field.NewPath(path), value, detail)}
}
