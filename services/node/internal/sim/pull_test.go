package sim

import (
	"slices"
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestRegistryExists(t *testing.T) {
	def := Registry{Missing: DefaultMissingImages}
	cases := map[string]struct {
		reg   Registry
		image string
		want  bool
	}{
		"a plain image":              {def, "nginx:1.27", true},
		"nonexistent tag":            {def, "nginx:nonexistent", false},
		"non-existent repository":    {def, "example.com/non-existent/app:1", false},
		"404 tag":                    {def, "nginx:404", false},
		"case-insensitive":           {def, "nginx:NonExistent", false},
		"a version is not 404":       {def, "ubuntu:14.04", true},
		"glob on the normalized ref": {Registry{Missing: []string{"docker.io/library/redis:*"}}, "redis:7", false},
		"glob misses":                {Registry{Missing: []string{"docker.io/library/redis:*"}}, "nginx", true},
		"no patterns":                {Registry{}, "nginx:nonexistent", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.reg.Exists(tc.image); got != tc.want {
				t.Errorf("Exists(%q) = %v, want %v", tc.image, got, tc.want)
			}
		})
	}
}

func TestNormalizeImage(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                     "docker.io/library/nginx:latest",
		"nginx:1.27":                "docker.io/library/nginx:1.27",
		"bitnami/redis:7":           "docker.io/bitnami/redis:7",
		"registry.k8s.io/pause:3.9": "registry.k8s.io/pause:3.9",
		"localhost:5000/app":        "localhost:5000/app:latest",
		"nginx@sha256:abc":          "docker.io/library/nginx@sha256:abc",
	} {
		if got := NormalizeImage(in); got != want {
			t.Errorf("NormalizeImage(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestImagePullBackOff: a missing image cycles ErrImagePull -> ImagePullBackOff
// with the kubelet's doubling back-off (10s, 20s, 40s, ... 300s), events on
// each change, the pod Pending and not Ready; once the image exists it runs.
func TestImagePullBackOff(t *testing.T) {
	d := Delays{BackOff: 10 * time.Second, Registry: Registry{Missing: DefaultMissingImages}}
	pod := boundPod(podOpts{})
	pod.Spec.Containers[0].Image = "nginx:nonexistent"
	steps := []struct {
		at          time.Duration
		wantState   string
		wantEvents  []string
		wantRequeue time.Duration
	}{
		{0, "waiting:ErrImagePull", []string{"Pulling", "Failed", "Failed"}, 2 * time.Second},
		{time.Second, "waiting:ErrImagePull", nil, time.Second},
		{2 * time.Second, "waiting:ImagePullBackOff", []string{"BackOff", "Failed"}, 8 * time.Second},
		{10 * time.Second, "waiting:ErrImagePull", []string{"Pulling", "Failed", "Failed"}, 2 * time.Second},
		{12 * time.Second, "waiting:ImagePullBackOff", []string{"BackOff", "Failed"}, 18 * time.Second},
		{30 * time.Second, "waiting:ErrImagePull", []string{"Pulling", "Failed", "Failed"}, 2 * time.Second},
		{33 * time.Second, "waiting:ImagePullBackOff", []string{"BackOff", "Failed"}, 37 * time.Second},
		// 10+20+40+80+160 = 310s: the sixth attempt; then every 300s.
		{313 * time.Second, "waiting:ImagePullBackOff", []string{}, 297 * time.Second},
	}
	p := pod
	for _, st := range steps {
		r := Next(p, readyNode(), t0.Add(st.at), d)
		if r.Pod != nil {
			p = r.Pod
		}
		var reasons []string
		for _, e := range r.Events {
			reasons = append(reasons, e.Reason)
		}
		if got := containerState(p); got != st.wantState || r.Requeue != st.wantRequeue || !slices.Equal(reasons, st.wantEvents) && len(st.wantEvents)+len(reasons) > 0 {
			t.Fatalf("at %v: state %s requeue %v events %v; want %s %v %v", st.at, got, r.Requeue, reasons, st.wantState, st.wantRequeue, st.wantEvents)
		}
		if p.GetStatus().GetPhase() != "Pending" || readyCondition(p) == "True" {
			t.Fatalf("at %v: phase %s ready %s", st.at, p.GetStatus().GetPhase(), readyCondition(p))
		}
	}
	w := p.GetStatus().GetContainerStatuses()[0].GetState().GetWaiting()
	if want := `Back-off pulling image "nginx:nonexistent": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:nonexistent": failed to resolve reference "docker.io/library/nginx:nonexistent": docker.io/library/nginx:nonexistent: not found`; w.GetMessage() != want {
		t.Errorf("message %q", w.GetMessage())
	}
	// The image is fixed on the pod: the next step runs it.
	p.Spec.Containers[0].Image = "nginx:1.27"
	p, _ = advance(p, readyNode(), t0.Add(400*time.Second), d)
	if containerState(p) != "running" || p.GetStatus().GetPhase() != "Running" {
		t.Fatalf("after the fix: %s %s", containerState(p), p.GetStatus().GetPhase())
	}
}

// TestFailImagePullAnnotation: the annotation fails a named container's pull.
func TestFailImagePullAnnotation(t *testing.T) {
	for v, want := range map[string]string{"true": "waiting:ErrImagePull", "app": "waiting:ErrImagePull", "other": "running"} {
		p := boundPod(podOpts{annotations: map[string]string{AnnotationFailImagePull: v}})
		p, _ = advance(p, readyNode(), t0, Delays{})
		if got := containerState(p); got != want {
			t.Errorf("%s=%q: %s, want %s", AnnotationFailImagePull, v, got, want)
		}
	}
}

func readyCondition(p *corev1.Pod) string {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus()
		}
	}
	return ""
}
