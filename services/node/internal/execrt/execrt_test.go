package execrt

import (
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func waitExit(t *testing.T, r *Runtime, id string, timeout time.Duration) int32 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, _, exited, known := r.Exited(id)
		if !known {
			t.Fatalf("%s unknown", id)
		}
		if exited {
			return code
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still running after %v", id, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testPod(uid string) *corev1.Pod {
	return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "p", Uid: uid}, Spec: &corev1.PodSpec{},
		Status: &corev1.PodStatus{ContainerStatuses: []*corev1.ContainerStatus{{Name: "c", ContainerId: "id-" + uid,
			State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
}

func TestRuntime(t *testing.T) {
	cases := map[string]struct {
		command []string
		env     []*corev1.EnvVar
		stop    bool
		code    int32
		log     []string
	}{
		"exit code and stdout":           {command: []string{"sh", "-c", "echo hello; exit 3"}, code: 3, log: []string{"hello"}},
		"stderr and env":                 {command: []string{"sh", "-c", `echo "$GREETING" >&2`}, env: []*corev1.EnvVar{{Name: "GREETING", Value: "hi"}}, log: []string{"hi"}},
		"command not found":              {command: []string{"/nonexistent/podwarden-test"}, code: 128},
		"SIGKILL after the grace period": {command: []string{"sh", "-c", `trap "" TERM; echo up; while true; do sleep 0.05; done`}, stop: true, code: 137, log: []string{"up"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := New()
			defer r.Close()
			uid := name
			p := testPod(uid)
			r.Start(p, &corev1.Container{Name: "c", Command: tc.command, Env: tc.env}, "id-"+uid)
			r.Start(p, &corev1.Container{Name: "c", Command: tc.command, Env: tc.env}, "id-"+uid) // idempotent
			if tc.stop {
				deadline := time.Now().Add(5 * time.Second)
				for {
					if l, _, _ := r.Log(p, "c", false); len(l) > 0 || time.Now().After(deadline) {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				r.Stop(uid, 200*time.Millisecond)
			}
			if code := waitExit(t, r, "id-"+uid, 5*time.Second); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			lines, more, ok := r.Log(p, "c", false)
			if !ok || more {
				t.Fatalf("log ok=%v more=%v", ok, more)
			}
			if tc.log != nil {
				if len(lines) != len(tc.log) || lines[0].Text != tc.log[0] {
					t.Errorf("log %+v, want %v", lines, tc.log)
				}
			}
		})
	}
}
