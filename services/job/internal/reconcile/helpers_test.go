package reconcile

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/job/internal/api"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func i32(v int32) *int32 { return &v }
func i64(v int64) *int64 { return &v }

type jobOpts struct {
	completions, parallelism *int32
	backoffLimit             int32
	restartPolicy            string
	indexed                  bool
	deadline                 *int64
	ttl                      *int32
	suspend                  bool
	status                   *jobv1.JobStatus
	pfp                      *jobv1.PodFailurePolicy
}

func newJob(o jobOpts) *jobv1.Job {
	j := &jobv1.Job{
		ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &corev1.ObjectMeta{Name: "j", Namespace: "default", Uid: "uid-j", CreationTimestamp: timestamppb.New(t0)},
		Spec: &jobv1.JobSpec{Completions: o.completions, Parallelism: o.parallelism, BackoffLimit: i32(o.backoffLimit),
			ActiveDeadlineSeconds: o.deadline, TtlSecondsAfterFinished: o.ttl, Suspend: &o.suspend, PodFailurePolicy: o.pfp,
			Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{RestartPolicy: "Never", Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}},
		Status: o.status,
	}
	if o.restartPolicy != "" {
		j.Spec.Template.Spec.RestartPolicy = o.restartPolicy
	}
	if o.indexed {
		j.Spec.CompletionMode = strp(api.Indexed)
	} else {
		j.Spec.CompletionMode = strp(api.NonIndexed)
	}
	api.DefaultJob(j)
	return j
}

func strp(s string) *string { return &s }

var podSeq int

// pod is a pod of the Job in a phase; finished (for terminal phases) is when it ended.
func pod(phase string, finished time.Time, mods ...func(*corev1.Pod)) *corev1.Pod {
	podSeq++
	p := &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: fmt.Sprintf("j-%d", podSeq), Namespace: "default", Uid: fmt.Sprintf("pod-%d", podSeq),
			CreationTimestamp: timestamppb.New(t0)},
		Spec:   &corev1.PodSpec{NodeName: "node-1"},
		Status: &corev1.PodStatus{Phase: phase},
	}
	if phase == "Succeeded" || phase == "Failed" {
		code := int32(0)
		if phase == "Failed" {
			code = 1
		}
		p.Status.ContainerStatuses = []*corev1.ContainerStatus{{Name: "c", State: &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, FinishedAt: timestamppb.New(finished)}}}}
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func withIndex(i int) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Metadata.Annotations = map[string]string{api.LabelCompletionIndex: strconv.Itoa(i)}
	}
}

func withCounted(outcome string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Metadata.Annotations == nil {
			p.Metadata.Annotations = map[string]string{}
		}
		p.Metadata.Annotations[AnnotationCounted] = outcome
	}
}

func withRestarts(n int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []*corev1.ContainerStatus{{Name: "c", RestartCount: n, State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	}
}

func withExitCode(code int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses[0].State.Terminated.ExitCode = code }
}

func started(at time.Time) *jobv1.JobStatus { return &jobv1.JobStatus{StartTime: timestamppb.New(at)} }

var planner = JobPlanner{BackOff: DefaultBackOff, Name: func(prefix string) string { return prefix + "x" }}
