package streams

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"

	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func runningPod() *corev1.Pod {
	return &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Namespace: "default", Name: "web", Uid: "u1"},
		Spec:     &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1.25"}}},
		Status: &corev1.PodStatus{Phase: "Running", PodIp: "10.244.1.2", ContainerStatuses: []*corev1.ContainerStatus{
			{Name: "nginx", State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		}},
	}
}

func startServer(t *testing.T, execRuntime bool) *Server {
	t.Helper()
	s, err := Listen(Config{Addr: "127.0.0.1:0", ExecRuntime: execRuntime, KubernetesIP: "10.96.0.1", DNSIP: "10.96.0.10",
		Pods: func(_ context.Context, ns, name string) (*corev1.Pod, error) {
			if ns == "default" && name == "web" {
				return runningPod(), nil
			}
			return nil, store.ErrNotFound
		}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// execStream runs cmd in web through the streaming server with client-go's
// SPDY executor (what kube-apiserver's translator and kubectl use).
func execStream(ctx context.Context, t *testing.T, s *Server, cmd []string, stdin string) (string, error) {
	t.Helper()
	resp, err := s.GetExec(ctx, &nodev1.GetExecRequest{Namespace: "default", Name: "web", Command: cmd, Stdin: stdin != "", Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(resp.GetUrl())
	rt, upgrader, err := spdy.RoundTripperFor(&rest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := remotecommand.NewSPDYExecutorForTransports(rt, upgrader, http.MethodPost, u)
	if err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	opts := remotecommand.StreamOptions{Stdout: &out, Stderr: &errw}
	if stdin != "" {
		opts.Stdin = strings.NewReader(stdin)
	}
	err = ex.StreamWithContext(ctx, opts)
	return out.String() + errw.String(), err
}

func waitActive(t *testing.T, s *Server, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Active() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams active, want %d", s.Active(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDroppedStreamStopsTheCommand: a client that goes away mid-command ends
// the command (the sim's sleep, the exec runtime's process): nothing is left
// running.
func TestDroppedStreamStopsTheCommand(t *testing.T) {
	for _, execRuntime := range []bool{false, true} {
		t.Run(map[bool]string{false: "sim", true: "exec"}[execRuntime], func(t *testing.T) {
			s := startServer(t, execRuntime)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := execStream(ctx, t, s, []string{"sleep", "3600"}, "")
				done <- err
			}()
			waitActive(t, s, 1)
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the client did not return")
			}
			waitActive(t, s, 0)
		})
	}
}

// TestExecRuntimeRunsAProcess: under the exec runtime a command is a process
// of the machine with the container's environment, its exit code the stream's.
func TestExecRuntimeRunsAProcess(t *testing.T) {
	s := startServer(t, true)
	out, err := execStream(context.Background(), t, s, []string{"sh", "-c", "echo $HOSTNAME $KUBERNETES_SERVICE_HOST; read x; echo got $x; exit 7"}, "line\n")
	if out != "web 10.96.0.1\ngot line\n" {
		t.Errorf("output %q", out)
	}
	if err == nil || !strings.Contains(err.Error(), "exit code 7") {
		t.Errorf("err = %v, want exit code 7", err)
	}
}

// TestGetExec: kube-apiserver's answers before any stream (Kubernetes errors),
// the kubelet's refusal as the upgrade error, and a URL otherwise.
func TestGetExec(t *testing.T) {
	s := startServer(t, false)
	cases := map[string]struct {
		req         *nodev1.GetExecRequest
		wantErr     string
		wantRefusal string
	}{
		"ok":                {req: &nodev1.GetExecRequest{Name: "web", Command: []string{"ls"}, Stdout: true}},
		"no command":        {req: &nodev1.GetExecRequest{Name: "web", Stdout: true}, wantErr: "you must specify at least 1 command"},
		"missing pod":       {req: &nodev1.GetExecRequest{Name: "nope", Command: []string{"ls"}, Stdout: true}, wantErr: `pods "nope" not found`},
		"missing container": {req: &nodev1.GetExecRequest{Name: "web", Container: "x", Command: []string{"ls"}, Stdout: true}, wantErr: "container x is not valid for pod web"},
		"tty with stderr":   {req: &nodev1.GetExecRequest{Name: "web", Command: []string{"ls"}, Stdout: true, Stderr: true, Tty: true}, wantErr: "tty and stderr cannot both be true"},
		"no streams":        {req: &nodev1.GetExecRequest{Name: "web", Command: []string{"ls"}}, wantErr: "one of stdin, stdout, or stderr must be set"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp, err := s.GetExec(context.Background(), tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.HasPrefix(resp.GetUrl(), "http://"+s.Addr()+"/cri/exec/") {
				t.Fatalf("= %v, %v", resp, err)
			}
		})
	}
}
