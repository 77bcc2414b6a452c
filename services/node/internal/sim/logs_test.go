package sim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestContainerLog(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	script := &corev1.Container{Name: "c", Command: []string{"sh", "-c", "echo one; sleep 10; date; echo two; exit 1"}}
	running := &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timestamppb.New(start)}}
	done := &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, StartedAt: timestamppb.New(start),
		FinishedAt: timestamppb.New(start.Add(10 * time.Second))}}
	pod := func(state, last *corev1.ContainerState) *corev1.Pod {
		return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "p"}, Spec: &corev1.PodSpec{RestartPolicy: "OnFailure", Containers: []*corev1.Container{script}},
			Status: &corev1.PodStatus{ContainerStatuses: []*corev1.ContainerStatus{{Name: "c", State: state, LastState: last}}}}
	}
	cases := map[string]struct {
		pod      *corev1.Pod
		previous bool
		now      time.Time
		scale    float64
		want     []string
		more     bool
		err      string
	}{
		"running, before the sleep ends": {pod: pod(running, nil), now: start.Add(5 * time.Second), want: []string{"one"}, more: true},
		"running, after the sleep":       {pod: pod(running, nil), now: start.Add(10 * time.Second), want: []string{"one", "Fri Jan  2 03:04:15 UTC 2026", "two"}, more: true},
		"time scale":                     {pod: pod(running, nil), now: start.Add(time.Second), scale: 0.1, want: []string{"one", "Fri Jan  2 03:04:06 UTC 2026", "two"}, more: true},
		"terminated":                     {pod: pod(done, nil), now: start.Add(time.Hour), want: []string{"one", "Fri Jan  2 03:04:15 UTC 2026", "two"}},
		"previous":                       {pod: pod(running, done), previous: true, now: start, want: []string{"one", "Fri Jan  2 03:04:15 UTC 2026", "two"}},
		"no previous":                    {pod: pod(running, nil), previous: true, now: start, err: `previous terminated container "c" in pod "p" not found`},
		"waiting": {pod: pod(&corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}}, nil), now: start,
			err: `container "c" in pod "p" is waiting to start: ContainerCreating`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, more, err := ContainerLog(tc.pod, "c", tc.previous, tc.now, tc.scale)
			if tc.err != "" {
				if !errors.Is(err, ErrBadLogRequest) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, e := range got {
				texts = append(texts, e.Text)
			}
			if strings.Join(texts, "|") != strings.Join(tc.want, "|") || more != tc.more {
				t.Errorf("got %q more=%v, want %q more=%v", texts, more, tc.want, tc.more)
			}
		})
	}
	if _, err := ContainerName(&corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "p"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "a"}, {Name: "b"}}}}, ""); err == nil ||
		!strings.Contains(err.Error(), "a container name must be specified for pod p, choose one of: [a b]") {
		t.Errorf("ContainerName: %v", err)
	}
}
