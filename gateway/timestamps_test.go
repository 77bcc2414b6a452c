package gateway

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestWholeSeconds(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 23, 28, 785521163, time.UTC)
	p := &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: "p", CreationTimestamp: timestamppb.New(at)},
		Status: &corev1.PodStatus{
			Conditions:        []*corev1.Condition{{Type: "Ready", LastTransitionTime: timestamppb.New(at)}},
			ContainerStatuses: []*corev1.ContainerStatus{{State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timestamppb.New(at)}}}},
		},
	}
	orig := proto.Clone(p)
	got := wholeSeconds(p).(*corev1.Pod)
	for name, ts := range map[string]*timestamppb.Timestamp{
		"metadata":  got.Metadata.CreationTimestamp,
		"condition": got.Status.Conditions[0].LastTransitionTime,
		"container": got.Status.ContainerStatuses[0].State.Running.StartedAt,
	} {
		if ts.GetNanos() != 0 || ts.GetSeconds() != at.Unix() {
			t.Errorf("%s: %v, want %v", name, ts.AsTime(), at.Truncate(time.Second))
		}
	}
	if !proto.Equal(p, orig) {
		t.Error("the caller's message was changed")
	}
	whole := &corev1.Pod{Metadata: &corev1.ObjectMeta{CreationTimestamp: timestamppb.New(at.Truncate(time.Second))}}
	if wholeSeconds(whole) != proto.Message(whole) {
		t.Error("a message without sub-second times was copied")
	}
}
