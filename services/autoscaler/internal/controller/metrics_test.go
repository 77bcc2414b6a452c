package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/autoscaler/internal/reconcile"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
)

// fakeMetrics serves fixed values and records the calls.
type fakeMetrics struct {
	pods     []*metricsv1.PodMetrics
	custom   []*metricsv1.MetricValue
	object   *metricsv1.MetricValue
	external []*metricsv1.ExternalMetricValue
	err      error
	calls    []string
}

var _ MetricsClient = (*fakeMetrics)(nil)

func (f *fakeMetrics) PodMetrics(_ context.Context, ns, sel string) ([]*metricsv1.PodMetrics, error) {
	f.calls = append(f.calls, "pods "+ns+" "+sel)
	return f.pods, f.err
}
func (f *fakeMetrics) PodCustomMetrics(_ context.Context, _, _, m string) ([]*metricsv1.MetricValue, error) {
	f.calls = append(f.calls, "custom "+m)
	return f.custom, f.err
}
func (f *fakeMetrics) ObjectMetric(_ context.Context, _, kind, name, m string) (*metricsv1.MetricValue, error) {
	f.calls = append(f.calls, "object "+kind+"/"+name+" "+m)
	return f.object, f.err
}
func (f *fakeMetrics) ExternalMetrics(_ context.Context, _, m, _ string) ([]*metricsv1.ExternalMetricValue, error) {
	f.calls = append(f.calls, "external "+m)
	return f.external, f.err
}

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func q(s string) *structpb.Value { return structpb.NewStringValue(s) }

func runningPods(n int, cpuRequest string) []*corev1.Pod {
	var out []*corev1.Pod
	start := timestamppb.New(now.Add(-time.Hour))
	for i := range n {
		req := map[string]*structpb.Value{}
		if cpuRequest != "" {
			req["cpu"] = q(cpuRequest)
		}
		out = append(out, &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: string(rune('a' + i))},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Resources: &corev1.ResourceRequirements{Requests: req}}}},
			Status: &corev1.PodStatus{Phase: "Running", StartTime: start,
				Conditions: []*corev1.Condition{{Type: "Ready", Status: "True", LastTransitionTime: start}}}})
	}
	return out
}

func podUsage(cpu ...string) []*metricsv1.PodMetrics {
	var out []*metricsv1.PodMetrics
	for i, c := range cpu {
		out = append(out, &metricsv1.PodMetrics{Metadata: &corev1.ObjectMeta{Name: string(rune('a' + i))}, Timestamp: timestamppb.New(now), Window: "30s",
			Containers: []*metricsv1.ContainerMetrics{{Name: "nginx", Usage: map[string]*structpb.Value{"cpu": q(c)}}}})
	}
	return out
}

func TestComputeMetric(t *testing.T) {
	cpuUtil := &autoscalerv1.MetricSpec{Type: "Resource", Resource: &autoscalerv1.ResourceMetricSource{Name: "cpu",
		Target: &autoscalerv1.MetricTarget{Type: "Utilization", AverageUtilization: proto32(10)}}}
	cases := map[string]struct {
		spec       *autoscalerv1.MetricSpec
		pods       []*corev1.Pod
		metrics    fakeMetrics
		want       int32
		wantName   string
		wantReason string
		wantErr    string
	}{
		"cpu utilization": {spec: cpuUtil, pods: runningPods(2, "10m"), metrics: fakeMetrics{pods: podUsage("6m", "6m")}, want: 12,
			wantName: "cpu resource utilization (percentage of request)"},
		"cpu without request": {spec: cpuUtil, pods: runningPods(1, ""), metrics: fakeMetrics{pods: podUsage("6m")},
			wantReason: "FailedGetResourceMetric", wantErr: "failed to get cpu utilization: missing request for cpu in container nginx of Pod a"},
		"no metrics": {spec: cpuUtil, pods: runningPods(1, "10m"), wantReason: "FailedGetResourceMetric",
			wantErr: "no metrics returned from resource metrics API"},
		"metrics API down": {spec: cpuUtil, pods: runningPods(1, "10m"), metrics: fakeMetrics{err: errors.New("unavailable")},
			wantReason: "FailedGetResourceMetric", wantErr: "unable to fetch metrics from resource metrics API: unavailable"},
		"cpu average value": {spec: &autoscalerv1.MetricSpec{Type: "Resource", Resource: &autoscalerv1.ResourceMetricSource{Name: "cpu",
			Target: &autoscalerv1.MetricTarget{Type: "AverageValue", AverageValue: q("5m")}}},
			pods: runningPods(2, "10m"), metrics: fakeMetrics{pods: podUsage("10m", "10m")}, want: 4, wantName: "cpu resource"},
		"container resource": {spec: &autoscalerv1.MetricSpec{Type: "ContainerResource", ContainerResource: &autoscalerv1.ContainerResourceMetricSource{
			Name: "cpu", Container: "nginx", Target: &autoscalerv1.MetricTarget{Type: "Utilization", AverageUtilization: proto32(50)}}},
			pods: runningPods(2, "10m"), metrics: fakeMetrics{pods: podUsage("10m", "10m")}, want: 4, wantName: "cpu container resource utilization (percentage of request)"},
		"pods metric": {spec: &autoscalerv1.MetricSpec{Type: "Pods", Pods: &autoscalerv1.PodsMetricSource{Metric: &autoscalerv1.MetricIdentifier{Name: "qps"},
			Target: &autoscalerv1.MetricTarget{Type: "AverageValue", AverageValue: q("10")}}},
			pods: runningPods(2, "10m"), metrics: fakeMetrics{custom: []*metricsv1.MetricValue{
				{DescribedObject: &corev1.ObjectReference{Name: "a"}, Value: q("30")}, {DescribedObject: &corev1.ObjectReference{Name: "b"}, Value: q("30")}}},
			want: 6, wantName: "pods metric qps"},
		"object value": {spec: &autoscalerv1.MetricSpec{Type: "Object", Object: &autoscalerv1.ObjectMetricSource{
			DescribedObject: &autoscalerv1.CrossVersionObjectReference{Kind: "Service", Name: "web"}, Metric: &autoscalerv1.MetricIdentifier{Name: "rps"},
			Target: &autoscalerv1.MetricTarget{Type: "Value", Value: q("100")}}},
			pods: runningPods(2, "10m"), metrics: fakeMetrics{object: &metricsv1.MetricValue{Value: q("300")}}, want: 6, wantName: "Service metric rps"},
		"external average value": {spec: &autoscalerv1.MetricSpec{Type: "External", External: &autoscalerv1.ExternalMetricSource{
			Metric: &autoscalerv1.MetricIdentifier{Name: "queue"}, Target: &autoscalerv1.MetricTarget{Type: "AverageValue", AverageValue: q("10")}}},
			pods: runningPods(2, "10m"), metrics: fakeMetrics{external: []*metricsv1.ExternalMetricValue{{Value: q("25")}, {Value: q("25")}}},
			want: 5, wantName: "external metric queue()"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := &Controller{calc: reconcile.NewCalculator(), metrics: &tc.metrics}
			o := &observed{namespace: "default", selector: "app=web", specReplicas: int32(len(tc.pods)), statusReplicas: int32(len(tc.pods)), pods: toPods(tc.pods)}
			r := c.computeMetric(context.Background(), now, tc.spec, o)
			if tc.wantErr != "" {
				if r.Err == nil || !strings.Contains(r.Err.Error(), tc.wantErr) || r.FailReason != tc.wantReason {
					t.Fatalf("result %+v, want error %q (%s)", r, tc.wantErr, tc.wantReason)
				}
				return
			}
			if r.Err != nil || r.Replicas != tc.want || r.Name != tc.wantName || r.Status == nil {
				t.Fatalf("result %+v (err %v), want %d %q", r, r.Err, tc.want, tc.wantName)
			}
		})
	}
}

func proto32(v int32) *int32 { return &v }
