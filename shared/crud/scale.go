package crud

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/labels"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// ScaleOf builds the autoscaling/v1 Scale subresource of an object.
func ScaleOf(m *corev1.ObjectMeta, spec, status int32, sel *corev1.LabelSelector) *corev1.Scale {
	return &corev1.Scale{
		ApiVersion: "autoscaling/v1", Kind: "Scale",
		Metadata: &corev1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Uid: m.Uid,
			ResourceVersion: m.ResourceVersion, CreationTimestamp: m.CreationTimestamp},
		Spec:   &corev1.ScaleSpec{Replicas: spec},
		Status: &corev1.ScaleStatus{Replicas: status, Selector: labels.String(sel)},
	}
}

// CheckScale validates a Scale write against the object it targets (gr names the
// target's resource in a conflict).
func CheckScale(s *corev1.Scale, gr apierr.GroupResource, m *corev1.ObjectMeta) error {
	if s.GetSpec().GetReplicas() < 0 {
		return apierr.Invalid(apierr.GroupKind{Group: "autoscaling", Kind: "Scale"}, m.Name, field.ErrorList{
			field.Invalid(field.NewPath("spec", "replicas"), s.GetSpec().GetReplicas(), "must be greater than or equal to 0")})
	}
	if rv := s.GetMetadata().GetResourceVersion(); rv != "" && rv != m.ResourceVersion {
		return apierr.Conflict(gr, m.Name, "the object has been modified; please apply your changes to the latest version and try again")
	}
	return nil
}

// KeepScaleManagers gives the object m describes the managedFields a Scale write
// carries: the gateway records the write's manager as kube-apiserver's scale
// subresources do and sends the object's resulting entries in the Scale's
// metadata (a Scale without any leaves the object's alone).
func KeepScaleManagers(s *corev1.Scale, m *corev1.ObjectMeta) {
	if mf := s.GetMetadata().GetManagedFields(); len(mf) > 0 {
		m.ManagedFields = mf
	}
}
