package reconcile

import (
	"strings"
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestPodFromTemplate(t *testing.T) {
	yes := true
	ref := &corev1.OwnerReference{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "frontend", Uid: "rs-uid", Controller: &yes, BlockOwnerDeletion: &yes}
	long := strings.Repeat("a", 70)
	longRef := &corev1.OwnerReference{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: long, Uid: "u"}
	tmplWithFinalizers := rsTemplate()
	tmplWithFinalizers.Metadata.Finalizers = []string{"example.com/keep"}
	tmplWithFinalizers.Metadata.Name = "ignored"

	tests := map[string]struct {
		template *corev1.PodTemplateSpec
		ref      *corev1.OwnerReference
		suffix   string
		want     *corev1.Pod
	}{
		"stamped from the template": {
			template: tmplWithFinalizers,
			ref:      ref,
			suffix:   "x8kfz",
			want: &corev1.Pod{
				ApiVersion: "v1", Kind: "Pod",
				Metadata: &corev1.ObjectMeta{
					Name: "frontend-x8kfz", GenerateName: "frontend-", Namespace: "default",
					Labels:            map[string]string{"app": "frontend", "tier": "web"},
					Annotations:       map[string]string{"team": "shop"},
					Finalizers:        []string{"example.com/keep"},
					OwnerReferences:   []*corev1.OwnerReference{ref},
					CreationTimestamp: timestamppb.New(rsNow),
				},
				Spec:   rsTemplate().GetSpec(),
				Status: &corev1.PodStatus{Phase: "Pending"},
			},
		},
		"no suffix leaves the name to the store": {
			template: rsTemplate(),
			ref:      ref,
			want: &corev1.Pod{
				ApiVersion: "v1", Kind: "Pod",
				Metadata: &corev1.ObjectMeta{
					GenerateName: "frontend-", Namespace: "default",
					Labels:            map[string]string{"app": "frontend", "tier": "web"},
					Annotations:       map[string]string{"team": "shop"},
					OwnerReferences:   []*corev1.OwnerReference{ref},
					CreationTimestamp: timestamppb.New(rsNow),
				},
				Spec:   rsTemplate().GetSpec(),
				Status: &corev1.PodStatus{Phase: "Pending"},
			},
		},
		"long owner name is cut to 58 characters before the suffix": {
			template: &corev1.PodTemplateSpec{},
			ref:      longRef,
			suffix:   "x8kfz",
			want: &corev1.Pod{
				ApiVersion: "v1", Kind: "Pod",
				Metadata: &corev1.ObjectMeta{
					Name: strings.Repeat("a", 58) + "x8kfz", GenerateName: long + "-", Namespace: "default",
					OwnerReferences:   []*corev1.OwnerReference{longRef},
					CreationTimestamp: timestamppb.New(rsNow),
				},
				Spec:   &corev1.PodSpec{},
				Status: &corev1.PodStatus{Phase: "Pending"},
			},
		},
		"no template and no owner": {
			suffix: "x8kfz",
			want: &corev1.Pod{
				ApiVersion: "v1", Kind: "Pod",
				Metadata: &corev1.ObjectMeta{
					Name: "-x8kfz", GenerateName: "-", Namespace: "default",
					CreationTimestamp: timestamppb.New(rsNow),
				},
				Spec:   &corev1.PodSpec{},
				Status: &corev1.PodStatus{Phase: "Pending"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := PodFromTemplate(tc.template, "default", tc.ref, tc.suffix, rsNow)
			rsCheckProto(t, "pod", got, tc.want)
			if tc.ref != nil && got.GetMetadata().GetOwnerReferences()[0] == tc.ref {
				t.Error("ownerReference shares memory with ref")
			}
		})
	}
}

func TestPodFromTemplateOwnerNameAtTheLimit(t *testing.T) {
	name := strings.Repeat("b", 253)
	got := PodFromTemplate(nil, "default", &corev1.OwnerReference{Name: name}, "", rsNow)
	if got.GetMetadata().GetGenerateName() != name {
		t.Errorf("generateName has %d characters, want the bare 253-character owner name", len(got.GetMetadata().GetGenerateName()))
	}
}
