// Package validation checks podwarden's proto objects with Kubernetes' rules,
// producing field.ErrorList with Kubernetes' wording and field paths
// (pkg/apis/core/validation, pkg/apis/apps/validation and apimachinery's
// api/validation), so apierr.Invalid renders exactly what kube-apiserver says.
//
// Kubernetes validates after defaulting. These functions accept both orders:
// a field that has a default (restartPolicy, dnsPolicy, imagePullPolicy,
// terminationMessagePolicy, port protocol, terminationGracePeriodSeconds,
// probe thresholds, a volume without a source) may be empty; a set value is
// checked as Kubernetes checks it. Errors come in a deterministic order (map
// keys sorted).
package validation

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Kubernetes' shared error texts.
const (
	IsNegativeErrorMsg     = apimachineryvalidation.IsNegativeErrorMsg     // "must be greater than or equal to 0"
	FieldImmutableErrorMsg = apimachineryvalidation.FieldImmutableErrorMsg // "field is immutable"
	isNotIntegerErrorMsg   = "must be an integer"
	isNotPositiveErrorMsg  = "must be greater than zero"
)

// NameFunc validates an object name; prefix is true for a generateName (a
// suffix will be appended, so a trailing dash is fine). It returns the
// problems found, nil when the name is valid.
type NameFunc = func(name string, prefix bool) []string

// NameIsDNSSubdomain is the name rule of most kinds (Deployment, ReplicaSet,
// Pod, Node, Job, ...): a DNS-1123 subdomain.
func NameIsDNSSubdomain(name string, prefix bool) []string {
	return apimachineryvalidation.NameIsDNSSubdomain(name, prefix)
}

// NameIsDNSLabel is the name rule of kinds whose name becomes a DNS label
// (Namespace, and the pod-owning name of a StatefulSet's pods).
func NameIsDNSLabel(name string, prefix bool) []string {
	return apimachineryvalidation.NameIsDNSLabel(name, prefix)
}

// NameIsDNS1035Label is the name rule of Services.
func NameIsDNS1035Label(name string, prefix bool) []string {
	return apimachineryvalidation.NameIsDNS1035Label(name, prefix)
}

// ValidateObjectMeta is apimachinery's ValidateObjectMeta on a proto
// ObjectMeta: generateName and name checked with nameFn ("name or
// generateName is required" when both are empty), namespace required and a
// DNS label when requireNamespace (forbidden otherwise), generation >= 0,
// labels, annotations, ownerReferences and finalizers. A name still to be
// generated (empty name, generateName set) is accepted.
func ValidateObjectMeta(m *corev1.ObjectMeta, requireNamespace bool, nameFn NameFunc, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if m == nil {
		m = &corev1.ObjectMeta{}
	}
	if m.GetGenerateName() != "" {
		for _, msg := range nameFn(m.GetGenerateName(), true) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("generateName"), m.GetGenerateName(), msg))
		}
	}
	switch {
	case m.GetName() != "":
		for _, msg := range nameFn(m.GetName(), false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), m.GetName(), msg))
		}
	case m.GetGenerateName() == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), "name or generateName is required"))
	}
	return append(allErrs, validateObjectMetaCommon(m, requireNamespace, fldPath)...)
}

func validateObjectMetaCommon(m *corev1.ObjectMeta, requireNamespace bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if requireNamespace {
		if m.GetNamespace() == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("namespace"), ""))
		} else {
			for _, msg := range apimachineryvalidation.ValidateNamespaceName(m.GetNamespace(), false) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), m.GetNamespace(), msg))
			}
		}
	} else if m.GetNamespace() != "" {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("namespace"), "not allowed on this type"))
	}
	allErrs = append(allErrs, ValidateNonnegative(m.GetGeneration(), fldPath.Child("generation"))...)
	allErrs = append(allErrs, ValidateLabels(m.GetLabels(), fldPath.Child("labels"))...)
	allErrs = append(allErrs, ValidateAnnotations(m.GetAnnotations(), fldPath.Child("annotations"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateOwnerReferences(ownerRefs(m.GetOwnerReferences()), fldPath.Child("ownerReferences"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateFinalizers(m.GetFinalizers(), fldPath.Child("finalizers"))...)
	return allErrs
}

// ValidateObjectMetaUpdate is apimachinery's ValidateObjectMetaUpdate:
// resourceVersion "must be specified for an update" (fill it from the stored
// object first for an unconditional update, as kube-apiserver does),
// generation not decremented, name, namespace, uid, creationTimestamp,
// deletionTimestamp and deletionGracePeriodSeconds immutable, no finalizer
// added once deleting, and the create-time checks of labels, annotations and
// ownerReferences.
func ValidateObjectMetaUpdate(newMeta, oldMeta *corev1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if newMeta == nil {
		newMeta = &corev1.ObjectMeta{}
	}
	if oldMeta == nil {
		oldMeta = &corev1.ObjectMeta{}
	}
	if oldMeta.GetDeletionTimestamp() != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNoNewFinalizers(newMeta.GetFinalizers(), oldMeta.GetFinalizers(), fldPath.Child("finalizers"))...)
	}
	if newMeta.GetResourceVersion() == "" {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("resourceVersion"), newMeta.GetResourceVersion(), "must be specified for an update"))
	}
	allErrs = append(allErrs, ValidateNonnegative(newMeta.GetGeneration(), fldPath.Child("generation"))...)
	if newMeta.GetGeneration() < oldMeta.GetGeneration() {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("generation"), newMeta.GetGeneration(), "must not be decremented"))
	}
	allErrs = append(allErrs, ValidateImmutable(newMeta.GetName(), oldMeta.GetName(), fldPath.Child("name"))...)
	allErrs = append(allErrs, ValidateImmutable(newMeta.GetNamespace(), oldMeta.GetNamespace(), fldPath.Child("namespace"))...)
	allErrs = append(allErrs, ValidateImmutable(newMeta.GetUid(), oldMeta.GetUid(), fldPath.Child("uid"))...)
	allErrs = append(allErrs, ValidateImmutable(newMeta.GetCreationTimestamp(), oldMeta.GetCreationTimestamp(), fldPath.Child("creationTimestamp"))...)
	allErrs = append(allErrs, ValidateImmutable(newMeta.GetDeletionTimestamp(), oldMeta.GetDeletionTimestamp(), fldPath.Child("deletionTimestamp"))...)
	if !reflect.DeepEqual(newMeta.DeletionGracePeriodSeconds, oldMeta.DeletionGracePeriodSeconds) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("deletionGracePeriodSeconds"), newMeta.DeletionGracePeriodSeconds, FieldImmutableErrorMsg))
	}
	allErrs = append(allErrs, ValidateLabels(newMeta.GetLabels(), fldPath.Child("labels"))...)
	allErrs = append(allErrs, ValidateAnnotations(newMeta.GetAnnotations(), fldPath.Child("annotations"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateOwnerReferences(ownerRefs(newMeta.GetOwnerReferences()), fldPath.Child("ownerReferences"))...)
	return allErrs
}

func ownerRefs(refs []*corev1.OwnerReference) []metav1.OwnerReference {
	if len(refs) == 0 {
		return nil
	}
	out := make([]metav1.OwnerReference, 0, len(refs))
	for _, r := range refs {
		out = append(out, metav1.OwnerReference{
			APIVersion:         r.GetApiVersion(),
			Kind:               r.GetKind(),
			Name:               r.GetName(),
			UID:                types.UID(r.GetUid()),
			Controller:         r.Controller,
			BlockOwnerDeletion: r.BlockOwnerDeletion,
		})
	}
	return out
}

// ValidateLabels is metav1validation.ValidateLabels (qualified-name keys,
// label-value values) with keys visited in sorted order.
func ValidateLabels(labels map[string]string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, k := range sortedKeys(labels) {
		allErrs = append(allErrs, metav1validation.ValidateLabels(map[string]string{k: labels[k]}, fldPath)...)
	}
	return allErrs
}

// ValidateAnnotations is apimachinery's ValidateAnnotations (keys are
// qualified names, case-insensitively; 256 kB in total) with keys in sorted order.
func ValidateAnnotations(annotations map[string]string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, k := range sortedKeys(annotations) {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
			allErrs = append(allErrs, field.Invalid(fldPath, k, msg))
		}
	}
	if err := apimachineryvalidation.ValidateAnnotationsSize(annotations); err != nil {
		allErrs = append(allErrs, field.TooLong(fldPath, "", apimachineryvalidation.TotalAnnotationSizeLimitB))
	}
	return allErrs
}

// ValidateTypeMeta checks a body's apiVersion and kind against the ones the
// request path implies. Empty values are accepted (defaults.DefaultTypeMeta
// fills them); a mismatch is an Invalid error on apiVersion or kind with
// kube-apiserver's wording.
func ValidateTypeMeta(apiVersion, kind, wantAPIVersion, wantKind string) field.ErrorList {
	var allErrs field.ErrorList
	if apiVersion != "" && apiVersion != wantAPIVersion {
		allErrs = append(allErrs, field.Invalid(field.NewPath("apiVersion"), apiVersion,
			fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", apiVersion, wantAPIVersion)))
	}
	if kind != "" && kind != wantKind {
		allErrs = append(allErrs, field.Invalid(field.NewPath("kind"), kind,
			fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", kind, wantKind)))
	}
	return allErrs
}

// ValidateNonnegative is ValidateNonnegativeField: "must be greater than or equal to 0".
func ValidateNonnegative(v int64, fldPath *field.Path) field.ErrorList {
	if v < 0 {
		return field.ErrorList{field.Invalid(fldPath, v, IsNegativeErrorMsg)}
	}
	return nil
}

// ValidateImmutable is ValidateImmutableField: "field is immutable" when new
// differs from old. Proto messages compare with proto.Equal and show as JSON.
func ValidateImmutable(newVal, oldVal any, fldPath *field.Path) field.ErrorList {
	nm, newIsProto := newVal.(proto.Message)
	om, oldIsProto := oldVal.(proto.Message)
	if newIsProto || oldIsProto {
		if newIsProto && oldIsProto && proto.Equal(nm, om) {
			return nil
		}
		return field.ErrorList{field.Invalid(fldPath, badValue(newVal), FieldImmutableErrorMsg)}
	}
	if apiequality.Semantic.DeepEqual(oldVal, newVal) {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, newVal, FieldImmutableErrorMsg)}
}

// badValue turns a proto message into a value field.Error renders as its
// Kubernetes JSON; other values pass through.
func badValue(v any) any {
	m, ok := v.(proto.Message)
	if !ok {
		return v
	}
	if m == nil || !m.ProtoReflect().IsValid() {
		return json.RawMessage("null")
	}
	b, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Sprint(m)
	}
	return json.RawMessage(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
