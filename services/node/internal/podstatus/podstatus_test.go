package podstatus

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func TestQOSClass(t *testing.T) {
	res := func(req, lim map[string]string) *corev1.ResourceRequirements {
		r := &corev1.ResourceRequirements{}
		for k, v := range req {
			if r.Requests == nil {
				r.Requests = map[string]*structpb.Value{}
			}
			r.Requests[k] = structpb.NewStringValue(v)
		}
		for k, v := range lim {
			if r.Limits == nil {
				r.Limits = map[string]*structpb.Value{}
			}
			r.Limits[k] = structpb.NewStringValue(v)
		}
		return r
	}
	both := map[string]string{"cpu": "500m", "memory": "128Mi"}
	tests := map[string]struct {
		containers []*corev1.ResourceRequirements
		want       string
	}{
		"nothing requested":           {containers: []*corev1.ResourceRequirements{nil}, want: "BestEffort"},
		"limits only, both resources": {containers: []*corev1.ResourceRequirements{res(nil, both)}, want: "Guaranteed"},
		"requests equal limits":       {containers: []*corev1.ResourceRequirements{res(map[string]string{"cpu": "0.5", "memory": "128Mi"}, both)}, want: "Guaranteed"},
		"requests below limits":       {containers: []*corev1.ResourceRequirements{res(map[string]string{"cpu": "100m"}, both)}, want: "Burstable"},
		"requests only":               {containers: []*corev1.ResourceRequirements{res(both, nil)}, want: "Burstable"},
		"one guaranteed, one empty":   {containers: []*corev1.ResourceRequirements{res(nil, both), nil}, want: "Burstable"},
		"cpu limit without memory":    {containers: []*corev1.ResourceRequirements{res(nil, map[string]string{"cpu": "1"})}, want: "Burstable"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := &corev1.Pod{Spec: &corev1.PodSpec{}}
			for i, r := range tc.containers {
				p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: string(rune('a' + i)), Resources: r})
			}
			if got := QOSClass(p); got != tc.want {
				t.Fatalf("QOSClass = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSetCondition(t *testing.T) {
	types := func(st *corev1.PodStatus) []string {
		var out []string
		for _, c := range st.GetConditions() {
			out = append(out, c.GetType())
		}
		return out
	}
	tests := map[string]struct {
		have      []*corev1.Condition
		typ       string
		status    string
		wantTypes []string
		wantMoved bool // lastTransitionTime set to now
	}{
		"first condition": {typ: podutil.PodScheduled, status: podutil.ConditionTrue,
			wantTypes: []string{podutil.PodScheduled}, wantMoved: true},
		"kept in the kubelet's order": {
			have: []*corev1.Condition{{Type: podutil.PodScheduled, Status: podutil.ConditionTrue}},
			typ:  podutil.PodReady, status: podutil.ConditionFalse,
			wantTypes: []string{podutil.PodReady, podutil.PodScheduled}, wantMoved: true},
		"same status keeps the transition time": {
			have: []*corev1.Condition{{Type: podutil.PodReady, Status: podutil.ConditionTrue, LastTransitionTime: timestamppb.New(t0.Add(-time.Hour))}},
			typ:  podutil.PodReady, status: podutil.ConditionTrue,
			wantTypes: []string{podutil.PodReady}},
		"status change moves the transition time": {
			have: []*corev1.Condition{{Type: podutil.PodReady, Status: podutil.ConditionTrue, LastTransitionTime: timestamppb.New(t0.Add(-time.Hour))}},
			typ:  podutil.PodReady, status: podutil.ConditionFalse,
			wantTypes: []string{podutil.PodReady}, wantMoved: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := &corev1.PodStatus{Conditions: tc.have}
			SetCondition(st, tc.typ, tc.status, "", "", t0)
			if got := types(st); !slices.Equal(got, tc.wantTypes) {
				t.Fatalf("conditions %v, want %v", got, tc.wantTypes)
			}
			_, c := podutil.GetPodCondition(st, tc.typ)
			if c.GetStatus() != tc.status || c.GetLastTransitionTime().AsTime().Equal(t0) != tc.wantMoved {
				t.Fatalf("condition %v (moved: want %v)", c, tc.wantMoved)
			}
		})
	}
}

func TestGracePeriodAndMarkDeleted(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	bound := func(tgps *int64, phase string) *corev1.Pod {
		return &corev1.Pod{Metadata: &corev1.ObjectMeta{}, Spec: &corev1.PodSpec{NodeName: "n1", TerminationGracePeriodSeconds: tgps},
			Status: &corev1.PodStatus{Phase: phase}}
	}
	tests := map[string]struct {
		pod       *corev1.Pod
		requested *int64
		want      int64
	}{
		"default":                 {pod: bound(nil, podutil.PodRunning), want: DefaultGracePeriodSeconds},
		"the pod's own":           {pod: bound(i64(5), podutil.PodRunning), want: 5},
		"requested wins":          {pod: bound(i64(5), podutil.PodRunning), requested: i64(1), want: 1},
		"negative requested is 0": {pod: bound(nil, podutil.PodRunning), requested: i64(-3), want: 0},
		"unscheduled: at once":    {pod: &corev1.Pod{Spec: &corev1.PodSpec{}}, requested: i64(10), want: 0},
		"terminal: at once":       {pod: bound(nil, podutil.PodSucceeded), want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := GracePeriod(tc.pod, tc.requested); got != tc.want {
				t.Fatalf("GracePeriod = %d, want %d", got, tc.want)
			}
		})
	}

	p := bound(nil, podutil.PodRunning)
	if !MarkDeleted(p, 30, t0) || !p.Metadata.DeletionTimestamp.AsTime().Equal(t0.Add(30*time.Second)) {
		t.Fatalf("first deletion: %v", p.Metadata)
	}
	if MarkDeleted(p, 60, t0.Add(time.Second)) {
		t.Fatal("a longer grace period changed the deletion")
	}
	if !MarkDeleted(p, 5, t0.Add(time.Second)) || !p.Metadata.DeletionTimestamp.AsTime().Equal(t0.Add(6*time.Second)) || p.Metadata.GetDeletionGracePeriodSeconds() != 5 {
		t.Fatalf("shorter grace: %v", p.Metadata)
	}
}
