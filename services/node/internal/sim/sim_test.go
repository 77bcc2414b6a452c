package sim

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func TestNext(t *testing.T) {
	human := Delays{Start: 500 * time.Millisecond, Ready: 500 * time.Millisecond, Termination: time.Second, BackOff: 10 * time.Second}
	running := func(o podOpts, d Delays, at time.Time) *corev1.Pod {
		p, _ := advance(boundPod(o), readyNode(), at, d)
		return p
	}
	deleting := func(p *corev1.Pod, grace int64, at time.Time) *corev1.Pod {
		podstatus.MarkDeleted(p, grace, at)
		return p
	}
	seven := int64(7)
	cases := map[string]struct {
		pod         *corev1.Pod
		node        *nodev1.Node
		now         time.Time
		delays      Delays
		wantPhase   string
		wantState   string
		wantReady   string
		wantDelete  bool
		wantRequeue time.Duration
		wantEvents  []string
		wantRestart int32
	}{
		"zero delays: bound -> running and ready in one go": {
			pod: boundPod(podOpts{}), node: readyNode(), now: t0,
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True",
			wantEvents: []string{"Pulled", "Created", "Started"},
		},
		"Always pull policy pulls": {
			pod: boundPod(podOpts{pullPolicy: "Always"}), node: readyNode(), now: t0,
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True",
			wantEvents: []string{"Pulling", "Pulled", "Created", "Started"},
		},
		"container creating until the start delay": {
			pod: boundPod(podOpts{}), node: readyNode(), now: t0.Add(100 * time.Millisecond), delays: human,
			wantPhase: podutil.PodPending, wantState: "waiting:ContainerCreating", wantReady: "False", wantRequeue: 400 * time.Millisecond,
		},
		"running, not ready before the ready delay": {
			pod: boundPod(podOpts{}), node: readyNode(), now: t0.Add(600 * time.Millisecond), delays: human,
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "False", wantRequeue: 500 * time.Millisecond,
			wantEvents: []string{"Pulled", "Created", "Started"},
		},
		"readiness probe initial delay": {
			pod: running(podOpts{probeDelay: 5}, Delays{}, t0), node: readyNode(), now: t0.Add(2 * time.Second),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "False", wantRequeue: 3 * time.Second,
		},
		"readiness probe passes after its delay": {
			pod: running(podOpts{probeDelay: 5}, Delays{}, t0), node: readyNode(), now: t0.Add(5 * time.Second),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True",
		},
		"sleep 3600 still runs after half an hour": {
			pod: running(podOpts{command: []string{"sleep", "3600"}, restartPolicy: "Never"}, Delays{}, t0), node: readyNode(), now: t0.Add(30 * time.Minute),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True", wantRequeue: 30 * time.Minute,
		},
		"exit 0 with Never succeeds": {
			pod:  running(podOpts{command: []string{"true"}, restartPolicy: "Never", annotations: map[string]string{AnnotationDuration: "3s"}}, Delays{}, t0),
			node: readyNode(), now: t0.Add(3 * time.Second),
			wantPhase: podutil.PodSucceeded, wantState: "terminated:Completed", wantReady: "False",
		},
		"still running before the duration": {
			pod:  running(podOpts{command: []string{"true"}, restartPolicy: "Never", annotations: map[string]string{AnnotationDuration: "3s"}}, Delays{}, t0),
			node: readyNode(), now: t0.Add(time.Second),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True", wantRequeue: 2 * time.Second,
		},
		"exit 0 with OnFailure succeeds": {
			pod:  running(podOpts{command: []string{"true"}, restartPolicy: "OnFailure", annotations: map[string]string{AnnotationExitCode: "0"}}, Delays{}, t0),
			node: readyNode(), now: t0,
			wantPhase: podutil.PodSucceeded, wantState: "terminated:Completed", wantReady: "False",
		},
		"non-zero exit with Never fails": {
			pod:  running(podOpts{command: []string{"false"}, restartPolicy: "Never", annotations: map[string]string{AnnotationExitCode: "2"}}, Delays{}, t0),
			node: readyNode(), now: t0,
			wantPhase: podutil.PodFailed, wantState: "terminated:Error", wantReady: "False",
		},
		"non-zero exit with OnFailure: crash loop back-off": {
			pod:  running(podOpts{command: []string{"false"}, restartPolicy: "OnFailure", annotations: map[string]string{AnnotationExitCode: "1", AnnotationDuration: "1s"}}, Delays{}, t0),
			node: readyNode(), now: t0.Add(1500 * time.Millisecond), delays: Delays{BackOff: 10 * time.Second},
			wantPhase: podutil.PodRunning, wantState: "waiting:CrashLoopBackOff", wantReady: "False", wantRestart: 1,
			wantRequeue: 9500 * time.Millisecond, wantEvents: []string{"BackOff"},
		},
		"exit 0 with Always restarts too": {
			pod:  running(podOpts{command: []string{"true"}, annotations: map[string]string{AnnotationExitCode: "0", AnnotationDuration: "1s"}}, Delays{}, t0),
			node: readyNode(), now: t0.Add(time.Second),
			wantPhase: podutil.PodRunning, wantState: "waiting:CrashLoopBackOff", wantReady: "False", wantRestart: 1,
			wantRequeue: MinBackOff, wantEvents: []string{"BackOff"},
		},
		"back-off over: restarted": {
			pod: func() *corev1.Pod {
				p := boundPod(podOpts{command: []string{"false"}, annotations: map[string]string{AnnotationExitCode: "1", AnnotationDuration: "1s"}})
				p, _ = advance(p, readyNode(), t0, Delays{BackOff: 10 * time.Second})
				p, _ = advance(p, readyNode(), t0.Add(time.Second), Delays{BackOff: 10 * time.Second})
				return p
			}(),
			node: readyNode(), now: t0.Add(11 * time.Second), delays: Delays{BackOff: 10 * time.Second},
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True", wantRestart: 1,
			wantRequeue: time.Second, wantEvents: []string{"Pulled", "Created", "Started"},
		},
		"graceful delete waits for the termination delay": {
			pod: deleting(running(podOpts{}, Delays{}, t0), 30, t0.Add(10*time.Second)), node: readyNode(),
			now: t0.Add(10*time.Second + 200*time.Millisecond), delays: human,
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True", wantRequeue: 800 * time.Millisecond,
		},
		"graceful delete: gone after min(termination, grace)": {
			pod: deleting(running(podOpts{}, Delays{}, t0), 30, t0.Add(10*time.Second)), node: readyNode(),
			now: t0.Add(11 * time.Second), delays: human,
			wantPhase: podutil.PodRunning, wantState: "terminated:Completed", wantReady: "False", wantDelete: true,
		},
		"grace shorter than the termination delay": {
			pod: deleting(running(podOpts{}, Delays{}, t0), 0, t0.Add(10*time.Second)), node: readyNode(),
			now: t0.Add(10 * time.Second), delays: human,
			wantPhase: podutil.PodRunning, wantState: "terminated:Completed", wantReady: "False", wantDelete: true,
		},
		"node gone: pod deleted": {
			pod: running(podOpts{}, Delays{}, t0), node: nil, now: t0,
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True", wantDelete: true,
		},
		"node not ready: Ready=False, nothing else moves": {
			pod: running(podOpts{}, Delays{}, t0), node: notReadyNode(), now: t0.Add(time.Minute),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "False", wantEvents: []string{"NodeNotReady"},
		},
		"node not ready: deletion hangs": {
			pod: deleting(running(podOpts{}, Delays{}, t0), 30, t0), node: notReadyNode(), now: t0.Add(time.Hour),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "False", wantEvents: []string{"NodeNotReady"},
		},
		"node ready again: Ready restored": {
			pod: func() *corev1.Pod {
				p, _ := advance(running(podOpts{}, Delays{}, t0), notReadyNode(), t0, Delays{})
				return p
			}(),
			node: readyNode(), now: t0.Add(time.Minute),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True",
		},
		"unready fault": {
			pod:  running(podOpts{annotations: map[string]string{AnnotationUnready: "true"}}, Delays{}, t0),
			node: readyNode(), now: t0,
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "False",
		},
		"active deadline": {
			pod: running(podOpts{deadline: &seven}, Delays{}, t0), node: readyNode(), now: t0.Add(7 * time.Second),
			wantPhase: podutil.PodFailed, wantState: "terminated:Error", wantReady: "False", wantEvents: []string{"DeadlineExceeded"},
		},
		"active deadline pending": {
			pod: running(podOpts{deadline: &seven}, Delays{}, t0), node: readyNode(), now: t0.Add(2 * time.Second),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True", wantRequeue: 5 * time.Second,
		},
		"image changed: container restarted with the new image": {
			pod: func() *corev1.Pod {
				p := running(podOpts{}, Delays{}, t0)
				p.Spec.Containers[0].Image = "nginx:1.28"
				return p
			}(),
			node: readyNode(), now: t0.Add(time.Minute),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True", wantRestart: 1,
			wantEvents: []string{"Killing", "Pulled", "Created", "Started"},
		},
		"untolerated NoExecute taint evicts": {
			pod: running(podOpts{}, Delays{}, t0), node: readyNode(&corev1.Taint{Key: "k", Effect: "NoExecute"}), now: t0,
			delays: human, wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True",
			wantRequeue: time.Second, wantEvents: []string{"TaintManagerEviction"},
		},
		"tolerationSeconds delays eviction": {
			pod:  running(podOpts{tolerations: []*corev1.Toleration{{Key: "k", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: &seven}}}, Delays{}, t0),
			node: readyNode(&corev1.Taint{Key: "k", Effect: "NoExecute", TimeAdded: timestamppb.New(t0)}), now: t0.Add(2 * time.Second),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True", wantRequeue: 5 * time.Second,
		},
		"tolerated NoExecute forever": {
			pod:  running(podOpts{tolerations: []*corev1.Toleration{{Key: "k", Operator: "Exists"}}}, Delays{}, t0),
			node: readyNode(&corev1.Taint{Key: "k", Effect: "NoExecute"}), now: t0.Add(time.Hour),
			wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := Next(tc.pod, tc.node, tc.now, tc.delays)
			got := r.Pod
			if got == nil {
				got = tc.pod
			}
			if r.Delete != tc.wantDelete {
				t.Errorf("Delete = %v, want %v", r.Delete, tc.wantDelete)
			}
			if ph := got.GetStatus().GetPhase(); ph != tc.wantPhase {
				t.Errorf("phase = %q, want %q", ph, tc.wantPhase)
			}
			if st := containerState(got); st != tc.wantState {
				t.Errorf("container state = %q, want %q", st, tc.wantState)
			}
			if rd := condStatus(got, podutil.PodReady); rd != tc.wantReady {
				t.Errorf("Ready = %q, want %q", rd, tc.wantReady)
			}
			if r.Requeue != tc.wantRequeue {
				t.Errorf("Requeue = %v, want %v", r.Requeue, tc.wantRequeue)
			}
			if ev := eventReasons(r.Events); !slices.Equal(ev, tc.wantEvents) {
				t.Errorf("events = %v, want %v", ev, tc.wantEvents)
			}
			if cs := got.GetStatus().GetContainerStatuses(); len(cs) > 0 && cs[0].GetRestartCount() != tc.wantRestart {
				t.Errorf("restartCount = %d, want %d", cs[0].GetRestartCount(), tc.wantRestart)
			}
		})
	}
}

// TestNextIsStable: a settled pod does not change when looked at again.
func TestNextIsStable(t *testing.T) {
	p, _ := advance(boundPod(podOpts{}), readyNode(), t0, Delays{})
	if r := Next(p, readyNode(), t0.Add(time.Hour), Delays{}); r.Pod != nil || r.Requeue != 0 || len(r.Events) != 0 {
		t.Errorf("settled pod changed: %+v", r)
	}
}

func TestBackOffDoublesAndCaps(t *testing.T) {
	s := &step{d: Delays{BackOff: 10 * time.Second}}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i, w := range want {
		if got := s.backOff(int32(i + 1)); got != w {
			t.Errorf("backOff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := (&step{}).backOff(1); got != MinBackOff {
		t.Errorf("zero delays: backOff(1) = %v, want %v", got, MinBackOff)
	}
}

func TestApplyFault(t *testing.T) {
	cases := map[string]struct {
		fault       string
		policy      string
		wantErr     bool
		wantPhase   string
		wantState   string
		wantRestart int32
		wantReady   string
	}{
		"crash with Always restarts":    {fault: FaultCrash, wantPhase: podutil.PodRunning, wantState: "waiting:CrashLoopBackOff", wantRestart: 1, wantReady: "False"},
		"crash with Never fails":        {fault: FaultCrash, policy: "Never", wantPhase: podutil.PodFailed, wantState: "terminated:Error", wantReady: "False"},
		"crash with OnFailure restarts": {fault: FaultCrash, policy: "OnFailure", wantPhase: podutil.PodRunning, wantState: "waiting:CrashLoopBackOff", wantRestart: 1, wantReady: "False"},
		"fail":                          {fault: FaultFail, wantPhase: podutil.PodFailed, wantState: "terminated:Error", wantReady: "False"},
		"unready":                       {fault: FaultUnready, wantPhase: podutil.PodRunning, wantState: "running", wantReady: "False"},
		"ready":                         {fault: FaultReady, wantPhase: podutil.PodRunning, wantState: "running", wantReady: "True"},
		"unknown":                       {fault: "explode", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, _ := advance(boundPod(podOpts{restartPolicy: tc.policy}), readyNode(), t0, Delays{})
			_, err := ApplyFault(p, tc.fault, 0, t0.Add(time.Second))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			p, _ = advance(p, readyNode(), t0.Add(time.Second), Delays{})
			if p.Status.Phase != tc.wantPhase || containerState(p) != tc.wantState ||
				p.Status.ContainerStatuses[0].RestartCount != tc.wantRestart || condStatus(p, podutil.PodReady) != tc.wantReady {
				t.Errorf("got phase %s, state %s, restarts %d, ready %s", p.Status.Phase, containerState(p),
					p.Status.ContainerStatuses[0].RestartCount, condStatus(p, podutil.PodReady))
			}
		})
	}
}
