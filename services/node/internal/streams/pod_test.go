package streams

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestResolveContainer(t *testing.T) {
	two := runningPod()
	two.Spec.Containers = append(two.Spec.Containers, &corev1.Container{Name: "sidecar"})
	two.Spec.InitContainers = []*corev1.Container{{Name: "init"}}
	unbound := runningPod()
	unbound.Spec.NodeName = ""
	cases := map[string]struct {
		pod       *corev1.Pod
		container string
		want      string
		wantErr   string
	}{
		"the only container":  {pod: runningPod(), want: "nginx"},
		"named":               {pod: two, container: "sidecar", want: "sidecar"},
		"an init container":   {pod: two, container: "init", want: "init"},
		"several, none named": {pod: two, wantErr: "a container name must be specified for pod web, choose one of: [nginx sidecar] or one of the init containers: [init]"},
		"no such container":   {pod: runningPod(), container: "nope", wantErr: "container nope is not valid for pod web"},
		"not scheduled":       {pod: unbound, container: "nginx", wantErr: "pod web does not have a host assigned"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ResolveContainer(tc.pod, tc.container)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestKubeletRefusal(t *testing.T) {
	creating := runningPod()
	creating.Status.ContainerStatuses[0].State = &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	if got := KubeletRefusal(runningPod(), "nginx"); got != "" {
		t.Errorf("running: %q", got)
	}
	if got := KubeletRefusal(creating, "nginx"); got != `container not found ("nginx")` {
		t.Errorf("creating: %q", got)
	}
}

func TestPodFilesAndEnv(t *testing.T) {
	p := runningPod()
	p.Spec.Hostname, p.Spec.Subdomain = "web-0", "nginx"
	v, _ := structpb.NewStruct(map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"}})
	secret, _ := structpb.NewStruct(map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "k"}})
	c := &corev1.Container{Name: "nginx", Env: []*corev1.EnvVar{
		{Name: "POD", ValueFrom: v}, {Name: "GREETING", Value: "hi $(POD)"}, {Name: "PASSWORD", ValueFrom: secret},
	}}
	env := strings.Join(Env(p, c, DefaultPath, "10.96.0.1"), "\n")
	for _, want := range []string{"HOSTNAME=web-0", "KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443", "POD=web", "GREETING=hi web"} {
		if !strings.Contains(env, want+"\n") && !strings.HasSuffix(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	if strings.Contains(env, "PASSWORD") {
		t.Errorf("an unresolvable secret got a value:\n%s", env)
	}
	hosts := HostsFile(p)
	if !strings.Contains(hosts, "10.244.1.2\tweb-0.nginx.default.svc.cluster.local\tweb-0\n") {
		t.Errorf("hosts:\n%s", hosts)
	}
	if got := ResolvConf(p, "10.96.0.10"); got != "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n" {
		t.Errorf("resolv.conf:\n%s", got)
	}
}

func TestWebServer(t *testing.T) {
	for image, want := range map[string]int32{"nginx": 80, "nginx:1.25": 80, "docker.io/library/nginx:1.27-alpine": 80, "httpd:2.4": 80, "busybox": 0, "redis": 0} {
		if port, _ := WebServer(image); port != want {
			t.Errorf("%s: port %d, want %d", image, port, want)
		}
	}
}

func TestCandidates(t *testing.T) {
	search := SearchPath("default")
	if got := strings.Join(Candidates("web-0.nginx", search), " "); got != "web-0.nginx.default.svc.cluster.local. web-0.nginx.svc.cluster.local. web-0.nginx.cluster.local. web-0.nginx." {
		t.Errorf("short name: %s", got)
	}
	if got := Candidates("a.b.c.d.e.f", search)[0]; got != "a.b.c.d.e.f." {
		t.Errorf("ndots:5: %s first", got)
	}
	if got := Candidates("x.", search); len(got) != 1 || got[0] != "x." {
		t.Errorf("absolute: %v", got)
	}
}
