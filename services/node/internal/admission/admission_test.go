package admission

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func stored() *corev1.Pod {
	ads := int64(60)
	p := &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: "web", Namespace: "default", Uid: "u", ResourceVersion: "5", Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{
			NodeName:              "node-1",
			ActiveDeadlineSeconds: &ads,
			Containers:            []*corev1.Container{{Name: "web", Image: "nginx:1.27"}},
		},
	}
	Prepare(p)
	return p
}

func TestPrepare(t *testing.T) {
	p := stored()
	if p.Status.Phase != "Pending" || p.Status.QosClass != "BestEffort" || p.Spec.RestartPolicy != "Always" {
		t.Errorf("status %v restartPolicy %q", p.Status, p.Spec.RestartPolicy)
	}
	if len(p.Spec.Tolerations) != 2 || p.Spec.Tolerations[0].GetTolerationSeconds() != 300 {
		t.Errorf("tolerations = %v", p.Spec.Tolerations)
	}
	Prepare(p)
	if len(p.Spec.Tolerations) != 2 {
		t.Errorf("Prepare twice: tolerations = %v", p.Spec.Tolerations)
	}
}

func TestValidateUpdate(t *testing.T) {
	cases := map[string]struct {
		mutate  func(p *corev1.Pod)
		wantErr string
	}{
		"labels":         {mutate: func(p *corev1.Pod) { p.Metadata.Labels["tier"] = "front" }},
		"image":          {mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }},
		"lower deadline": {mutate: func(p *corev1.Pod) { v := int64(30); p.Spec.ActiveDeadlineSeconds = &v }},
		"add a toleration": {mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, &corev1.Toleration{Key: "k", Operator: "Exists"})
		}},
		"raise deadline": {
			mutate:  func(p *corev1.Pod) { v := int64(90); p.Spec.ActiveDeadlineSeconds = &v },
			wantErr: "spec.activeDeadlineSeconds: Invalid value: 90: must be less than or equal to previous value",
		},
		"remove a toleration": {
			mutate:  func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[:1] },
			wantErr: "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
		},
		"change ports": {
			mutate: func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}}
			},
			wantErr: "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
		},
		"change nodeName": {
			mutate:  func(p *corev1.Pod) { p.Spec.NodeName = "node-2" },
			wantErr: "spec: Forbidden: pod updates may not change fields other than",
		},
		"rename": {
			mutate:  func(p *corev1.Pod) { p.Metadata.Name = "other" },
			wantErr: "metadata.name: Invalid value: \"other\": field is immutable",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			old := stored()
			p := proto.Clone(old).(*corev1.Pod)
			tc.mutate(p)
			errs := ValidateUpdate(p, old)
			if tc.wantErr == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs.ToAggregate())
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.wantErr) {
				t.Errorf("errors = %v, want %q", errs.ToAggregate(), tc.wantErr)
			}
		})
	}
}

func TestDefaultServiceAccount(t *testing.T) {
	tests := map[string]struct {
		spec       *corev1.PodSpec
		name, depr string
	}{
		"none":            {spec: &corev1.PodSpec{}, name: "default", depr: "default"},
		"no spec":         {name: "default", depr: "default"},
		"named":           {spec: &corev1.PodSpec{ServiceAccountName: "bot"}, name: "bot", depr: "bot"},
		"deprecated only": {spec: &corev1.PodSpec{ServiceAccount: "old"}, name: "old", depr: "old"},
		"name wins":       {spec: &corev1.PodSpec{ServiceAccountName: "bot", ServiceAccount: "old"}, name: "bot", depr: "bot"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := &corev1.Pod{Spec: tc.spec}
			DefaultServiceAccount(p)
			if p.GetSpec().GetServiceAccountName() != tc.name || p.GetSpec().GetServiceAccount() != tc.depr {
				t.Fatalf("got %q/%q, want %q/%q", p.GetSpec().GetServiceAccountName(), p.GetSpec().GetServiceAccount(), tc.name, tc.depr)
			}
		})
	}
}
