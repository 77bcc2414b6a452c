package metrics

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
)

func pod(name, app, phase string, ready bool) *corev1.Pod {
	st := "False"
	if ready {
		st = "True"
	}
	return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app}},
		Spec:   &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c"}}},
		Status: &corev1.PodStatus{Phase: phase, Conditions: []*corev1.Condition{{Type: "Ready", Status: st}}}}
}

func load(sel, cpu string, metrics map[string]string) *metricsv1.Load {
	l := &metricsv1.Load{Metadata: &corev1.ObjectMeta{Name: "l", Namespace: "default"},
		Spec: &metricsv1.LoadSpec{Selector: sel, Cpu: structpb.NewStringValue(cpu), Metrics: map[string]*structpb.Value{}}}
	for k, v := range metrics {
		l.Spec.Metrics[k] = structpb.NewStringValue(v)
	}
	return l
}

func TestPodUsage(t *testing.T) {
	deleting := pod("d", "web", "Running", true)
	deleting.Metadata.DeletionTimestamp = timestamppb.Now()
	cases := map[string]struct {
		pods    []*corev1.Pod
		loads   []*metricsv1.Load
		wantCPU map[string]int64 // pod name -> millicores; absent = no metrics
		wantQPS map[string]int64
	}{
		"no load: idle": {pods: []*corev1.Pod{pod("a", "web", "Running", true)}, wantCPU: map[string]int64{"a": IdleCPUMilli}},
		"load shared over ready pods": {
			pods:    []*corev1.Pod{pod("a", "web", "Running", true), pod("b", "web", "Running", true), pod("c", "web", "Running", false), pod("x", "db", "Running", true)},
			loads:   []*metricsv1.Load{load("app=web", "580m", map[string]string{"qps": "10"})},
			wantCPU: map[string]int64{"a": 290, "b": 290, "c": IdleCPUMilli, "x": IdleCPUMilli},
			wantQPS: map[string]int64{"a": 5000, "b": 5000, "c": 0, "x": 0},
		},
		"pending and deleting pods have no metrics": {
			pods:    []*corev1.Pod{pod("a", "web", "Running", true), pod("p", "web", "Pending", false), deleting},
			loads:   []*metricsv1.Load{load("app=web", "100m", nil)},
			wantCPU: map[string]int64{"a": 100},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := PodUsage(tc.pods, tc.loads)
			if len(got) != len(tc.wantCPU) {
				t.Fatalf("got metrics for %d pods, want %d: %v", len(got), len(tc.wantCPU), got)
			}
			for n, want := range tc.wantCPU {
				if u, ok := got["default/"+n]; !ok || u.CPU != want {
					t.Fatalf("pod %s: cpu %v, want %d", n, u, want)
				}
			}
			for n, want := range tc.wantQPS {
				if got["default/"+n].Custom["qps"] != want {
					t.Fatalf("pod %s: qps %d, want %d", n, got["default/"+n].Custom["qps"], want)
				}
			}
		})
	}
}

func TestContainerUsageSplitsByRequest(t *testing.T) {
	p := pod("a", "web", "Running", true)
	p.Spec.Containers = []*corev1.Container{
		{Name: "app", Resources: &corev1.ResourceRequirements{Requests: map[string]*structpb.Value{"cpu": structpb.NewStringValue("300m")}}},
		{Name: "sidecar", Resources: &corev1.ResourceRequirements{Requests: map[string]*structpb.Value{"cpu": structpb.NewStringValue("100m")}}},
	}
	cs := ContainerUsage(p, Usage{CPU: 400})
	if cs[0].Usage["cpu"].GetStringValue() != "300m" || cs[1].Usage["cpu"].GetStringValue() != "100m" {
		t.Fatalf("split %v", cs)
	}
}

func TestValidateLoad(t *testing.T) {
	l := load("", "-1", nil)
	errs := ValidateLoad(l, nil, true)
	if len(errs) != 2 || errs[0].Field != "spec.selector" || errs[1].Field != "spec.cpu" {
		t.Fatalf("errs %v", errs)
	}
}
