package podutil

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type podSpec struct {
	phase    string
	ready    string // Ready condition status; "" means no Ready condition
	since    *timestamppb.Timestamp
	deleting bool
}

func pod(s podSpec) *corev1.Pod {
	p := &corev1.Pod{Metadata: &corev1.ObjectMeta{}, Status: &corev1.PodStatus{Phase: s.phase, Conditions: []*corev1.Condition{
		{Type: PodScheduled, Status: ConditionTrue},
	}}}
	if s.ready != "" {
		p.Status.Conditions = append(p.Status.Conditions, &corev1.Condition{Type: PodReady, Status: s.ready, LastTransitionTime: s.since})
	}
	if s.deleting {
		p.Metadata.DeletionTimestamp = timestamppb.New(t0)
	}
	return p
}

func TestPodPredicates(t *testing.T) {
	since := timestamppb.New(t0)
	tests := map[string]struct {
		pod                           *corev1.Pod
		minReady                      int32
		now                           time.Time
		ready, available              bool
		terminal, active, terminating bool
		wantAt                        time.Time
	}{
		"nil pod":                              {pod: nil, now: t0, active: true},
		"no conditions":                        {pod: &corev1.Pod{Status: &corev1.PodStatus{Phase: PodPending}}, now: t0, active: true},
		"no Ready condition":                   {pod: pod(podSpec{phase: PodPending}), now: t0, active: true},
		"ready, minReadySeconds 0":             {pod: pod(podSpec{phase: PodRunning, ready: ConditionTrue, since: since}), now: t0, ready: true, available: true, active: true},
		"ready without transition time, min 0": {pod: pod(podSpec{phase: PodRunning, ready: ConditionTrue}), now: t0, ready: true, available: true, active: true},
		"ready 9s of 10":                       {pod: pod(podSpec{phase: PodRunning, ready: ConditionTrue, since: since}), minReady: 10, now: t0.Add(9 * time.Second), ready: true, active: true, wantAt: t0.Add(10 * time.Second)},
		"ready 10s of 10":                      {pod: pod(podSpec{phase: PodRunning, ready: ConditionTrue, since: since}), minReady: 10, now: t0.Add(10 * time.Second), ready: true, available: true, active: true, wantAt: t0.Add(10 * time.Second)},
		"ready 11s of 10":                      {pod: pod(podSpec{phase: PodRunning, ready: ConditionTrue, since: since}), minReady: 10, now: t0.Add(11 * time.Second), ready: true, available: true, active: true, wantAt: t0.Add(10 * time.Second)},
		"ready without transition time, min 1": {pod: pod(podSpec{phase: PodRunning, ready: ConditionTrue}), minReady: 1, now: t0.Add(time.Hour), ready: true, active: true},
		"Ready=False":                          {pod: pod(podSpec{phase: PodRunning, ready: ConditionFalse, since: since}), now: t0, active: true},
		"Ready=Unknown":                        {pod: pod(podSpec{phase: PodRunning, ready: ConditionUnknown, since: since}), now: t0, active: true},
		"succeeded":                            {pod: pod(podSpec{phase: PodSucceeded, ready: ConditionFalse}), now: t0, terminal: true},
		"failed":                               {pod: pod(podSpec{phase: PodFailed, ready: ConditionFalse}), now: t0, terminal: true},
		"failed and deleting: not terminating": {pod: pod(podSpec{phase: PodFailed, deleting: true}), now: t0, terminal: true},
		"ready and deleting":                   {pod: pod(podSpec{phase: PodRunning, ready: ConditionTrue, deleting: true}), now: t0, ready: true, available: true, terminating: true},
		"unknown phase counts as active":       {pod: pod(podSpec{phase: PodUnknown}), now: t0, active: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsPodReady(tc.pod); got != tc.ready {
				t.Errorf("IsPodReady = %v, want %v", got, tc.ready)
			}
			if got := IsPodAvailable(tc.pod, tc.minReady, tc.now); got != tc.available {
				t.Errorf("IsPodAvailable = %v, want %v", got, tc.available)
			}
			at, ok := PodAvailableAt(tc.pod, tc.minReady)
			if !tc.wantAt.IsZero() && (!ok || !at.Equal(tc.wantAt)) || tc.available && !ok {
				t.Errorf("PodAvailableAt = %v, %v; want %v", at, ok, tc.wantAt)
			}
			if got := IsPodTerminal(tc.pod); got != tc.terminal {
				t.Errorf("IsPodTerminal = %v, want %v", got, tc.terminal)
			}
			if got := IsPodActive(tc.pod); got != tc.active {
				t.Errorf("IsPodActive = %v, want %v", got, tc.active)
			}
			if got := IsPodTerminating(tc.pod); got != tc.terminating {
				t.Errorf("IsPodTerminating = %v, want %v", got, tc.terminating)
			}
		})
	}
}

func TestGetPodCondition(t *testing.T) {
	st := &corev1.PodStatus{Conditions: []*corev1.Condition{
		{Type: PodScheduled, Status: ConditionTrue},
		{Type: PodReady, Status: ConditionFalse},
	}}
	tests := map[string]struct {
		status    *corev1.PodStatus
		typ       string
		wantIndex int
		wantFound bool
	}{
		"found first":  {status: st, typ: PodScheduled, wantIndex: 0, wantFound: true},
		"found second": {status: st, typ: PodReady, wantIndex: 1, wantFound: true},
		"absent":       {status: st, typ: ContainersReady, wantIndex: -1},
		"nil status":   {status: nil, typ: PodReady, wantIndex: -1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			i, c := GetPodCondition(tc.status, tc.typ)
			if i != tc.wantIndex || (c != nil) != tc.wantFound || c != nil && c.GetType() != tc.typ {
				t.Fatalf("GetPodCondition = %d, %v; want %d, found %v", i, c, tc.wantIndex, tc.wantFound)
			}
		})
	}
	if c := GetPodReadyCondition(st); c == nil || c.GetStatus() != ConditionFalse {
		t.Fatalf("GetPodReadyCondition = %v", c)
	}
	if IsPodReadyConditionTrue(st) {
		t.Fatal("IsPodReadyConditionTrue with Ready=False")
	}
}

func TestFilterActivePods(t *testing.T) {
	running := pod(podSpec{phase: PodRunning})
	pending := pod(podSpec{phase: PodPending})
	tests := map[string]struct {
		pods []*corev1.Pod
		want []*corev1.Pod
	}{
		"none":       {},
		"all active": {pods: []*corev1.Pod{running, pending}, want: []*corev1.Pod{running, pending}},
		"terminal and deleting dropped, order kept": {
			pods: []*corev1.Pod{pod(podSpec{phase: PodSucceeded}), pending, pod(podSpec{phase: PodRunning, deleting: true}), running, pod(podSpec{phase: PodFailed})},
			want: []*corev1.Pod{pending, running},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := FilterActivePods(tc.pods)
			if len(got) != len(tc.want) {
				t.Fatalf("FilterActivePods: %d pods, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("FilterActivePods[%d] is another pod", i)
				}
			}
		})
	}
}

func TestControllerRef(t *testing.T) {
	yes, no := true, false
	owner := &corev1.ObjectMeta{Name: "web", Uid: "uid-web"}
	other := &corev1.ObjectMeta{Name: "db", Uid: "uid-db"}
	tests := map[string]struct {
		refs         []*corev1.OwnerReference
		wantUID      string
		controlledBy bool
	}{
		"no owners": {},
		"owner but not controller": {
			refs: []*corev1.OwnerReference{{Kind: "ReplicaSet", Name: "web", Uid: "uid-web", Controller: &no}},
		},
		"controller unset": {
			refs: []*corev1.OwnerReference{{Kind: "ReplicaSet", Name: "web", Uid: "uid-web"}},
		},
		"controller": {
			refs:    []*corev1.OwnerReference{{Kind: "ReplicaSet", Name: "web", Uid: "uid-web", Controller: &yes}},
			wantUID: "uid-web", controlledBy: true,
		},
		"controller after a plain owner": {
			refs: []*corev1.OwnerReference{
				{Kind: "Service", Name: "web", Uid: "uid-web", Controller: &no},
				{Kind: "StatefulSet", Name: "db", Uid: "uid-db", Controller: &yes},
			},
			wantUID: "uid-db",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			meta := &corev1.ObjectMeta{Name: "p", OwnerReferences: tc.refs}
			if got := GetControllerOf(meta).GetUid(); got != tc.wantUID {
				t.Errorf("GetControllerOf uid %q, want %q", got, tc.wantUID)
			}
			if got := IsControlledBy(meta, owner); got != tc.controlledBy {
				t.Errorf("IsControlledBy(web) = %v, want %v", got, tc.controlledBy)
			}
			if got := IsControlledBy(meta, other); got != (tc.wantUID == "uid-db") {
				t.Errorf("IsControlledBy(db) = %v", got)
			}
		})
	}
	if GetControllerOf(nil) != nil || IsControlledBy(nil, owner) {
		t.Fatal("nil metadata has a controller")
	}
}

func TestNewControllerRef(t *testing.T) {
	owner := &corev1.ObjectMeta{Name: "web", Namespace: "default", Uid: "uid-web"}
	ref := NewControllerRef(owner, "apps/v1", "StatefulSet")
	if ref.GetApiVersion() != "apps/v1" || ref.GetKind() != "StatefulSet" || ref.GetName() != "web" || ref.GetUid() != "uid-web" ||
		!ref.GetController() || !ref.GetBlockOwnerDeletion() {
		t.Fatalf("NewControllerRef = %v", ref)
	}
	pod := &corev1.ObjectMeta{Name: "web-0", OwnerReferences: []*corev1.OwnerReference{ref}}
	if GetControllerOf(pod) != ref || !IsControlledBy(pod, owner) {
		t.Fatal("the new reference is not the pod's controller")
	}
}
