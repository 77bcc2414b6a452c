package admission

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestValidateStatusUpdate(t *testing.T) {
	running := &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:     &corev1.PodSpec{RestartPolicy: "Never", Containers: []*corev1.Container{{Name: "c"}}},
		Status: &corev1.PodStatus{Phase: "Running", QosClass: "BestEffort", PodIp: "10.244.1.2", ContainerStatuses: []*corev1.ContainerStatus{
			{Name: "c", State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		}},
	}
	failed := proto.Clone(running).(*corev1.Pod)
	failed.Status.Phase = "Failed"
	failed.Status.ContainerStatuses[0].State = &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}
	with := func(base *corev1.Pod, f func(*corev1.PodStatus)) *corev1.Pod {
		p := proto.Clone(base).(*corev1.Pod)
		f(p.Status)
		return p
	}
	cases := map[string]struct {
		old, new *corev1.Pod
		want     string // "" = valid; else a substring of the errors
	}{
		"a test suite marks the pod Failed": {old: running, new: failed},
		"a condition is added": {old: running, new: with(running, func(s *corev1.PodStatus) {
			s.Conditions = append(s.Conditions, &corev1.Condition{Type: "example.com/gate", Status: "True"})
		})},
		"unknown phase": {old: running, new: with(running, func(s *corev1.PodStatus) { s.Phase = "Exploded" }),
			want: `status.phase: Unsupported value: "Exploded"`},
		"terminal back to running": {old: failed, new: with(failed, func(s *corev1.PodStatus) { s.Phase = "Running" }),
			want: "status.phase: Forbidden"},
		"qosClass changes": {old: running, new: with(running, func(s *corev1.PodStatus) { s.QosClass = "Guaranteed" }),
			want: "status.qosClass: Invalid value"},
		"a terminated container restarted under Never": {old: failed, new: with(failed, func(s *corev1.PodStatus) {
			s.Phase = "Failed"
			s.ContainerStatuses[0].State = &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}), want: "status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"},
		"bad pod IP": {old: running, new: with(running, func(s *corev1.PodStatus) { s.PodIp = "10.244.1" }),
			want: "status.podIP: Invalid value"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			errs := ValidateStatusUpdate(tc.new, tc.old)
			got := errs.ToAggregate()
			switch {
			case tc.want == "" && got != nil:
				t.Fatalf("unexpected errors: %v", got)
			case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
				t.Fatalf("errors %v, want %q", got, tc.want)
			}
		})
	}
}
