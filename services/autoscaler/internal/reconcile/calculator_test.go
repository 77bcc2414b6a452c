package reconcile

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// readyPods builds running pods that became ready long ago, with a cpu request each.
func readyPods(requests ...int64) []Pod {
	var out []Pod
	start := t0.Add(-10 * time.Minute)
	for i, r := range requests {
		out = append(out, Pod{Name: fmt.Sprintf("p%d", i), Phase: PodRunning, StartTime: &start,
			Ready:      &ReadyCondition{Status: true, LastTransitionTime: start.Add(10 * time.Second)},
			Containers: []Container{{Name: "c", Requests: map[string]int64{"cpu": r, "memory": r * 1000}}}})
	}
	return out
}

func usage(values ...int64) PodMetrics {
	m := PodMetrics{}
	for i, v := range values {
		if v >= 0 {
			m[fmt.Sprintf("p%d", i)] = PodMetric{Timestamp: t0, Window: 30 * time.Second, Value: v}
		}
	}
	return m
}

func TestResourceReplicas(t *testing.T) {
	unready := func(pods []Pod, i int) []Pod {
		start := t0.Add(-time.Minute)
		pods[i].StartTime = &start
		pods[i].Ready = &ReadyCondition{Status: false, LastTransitionTime: t0.Add(-30 * time.Second)}
		return pods
	}
	pending := func(pods []Pod, i int) []Pod { pods[i].Phase = PodPending; pods[i].Ready = nil; return pods }
	failed := func(pods []Pod, i int) []Pod { pods[i].Phase = PodFailed; return pods }
	noRequest := func(pods []Pod) []Pod { pods[0].Containers[0].Requests = map[string]int64{}; return pods }
	cases := map[string]struct {
		current  int32
		target   int32
		pods     []Pod
		metrics  PodMetrics
		resource string
		want     int32
		wantUtil int32
		wantErr  string
	}{
		// The documented example: 200m used of a 100m target doubles the replicas.
		"docs: double at twice the target":  {current: 1, target: 100, pods: readyPods(100), metrics: usage(200), want: 2, wantUtil: 200},
		"scale up":                          {current: 3, target: 30, pods: readyPods(1000, 1000, 1000), metrics: usage(300, 500, 700), want: 5, wantUtil: 50},
		"scale down":                        {current: 5, target: 50, pods: readyPods(1000, 1000, 1000, 1000, 1000), metrics: usage(100, 300, 500, 250, 250), want: 3, wantUtil: 28},
		"within tolerance band: no change":  {current: 3, target: 100, pods: readyPods(900, 1000, 1100), metrics: usage(1010, 1030, 1020), want: 3, wantUtil: 102},
		"just outside tolerance band":       {current: 4, target: 50, pods: readyPods(100, 100, 100, 100), metrics: usage(56, 56, 56, 56), want: 5, wantUtil: 56},
		"hpa-nginx: 60% of a 10% target":    {current: 1, target: 10, pods: readyPods(10), metrics: usage(6), want: 6, wantUtil: 60},
		"idle: zero (clamped to min later)": {current: 2, target: 10, pods: readyPods(10, 10), metrics: usage(0, 0), want: 0, wantUtil: 0},
		// An unready pod counts as 0% on a scale-up (less aggressive scale-up).
		"unready pod on scale-up counts as zero": {current: 3, target: 30, pods: unready(readyPods(1000, 1000, 1000), 0), metrics: usage(300, 500, 700), want: 4, wantUtil: 60},
		"pending pod on scale-up counts as zero": {current: 3, target: 30, pods: pending(readyPods(1000, 1000, 1000), 0), metrics: usage(-1, 500, 700), want: 4, wantUtil: 60},
		// Unready pods are left out of a scale-down.
		"unready pod ignored on scale-down": {current: 3, target: 50, pods: unready(readyPods(1000, 1000, 1000), 0), metrics: usage(900, 100, 100), want: 1, wantUtil: 10},
		// Missing metrics: 0% on a scale-up, 100% of request on a scale-down.
		"missing metric on scale-up counts as zero":     {current: 4, target: 50, pods: readyPods(1000, 1000, 1000, 1000), metrics: usage(800, 900, 700, -1), want: 5, wantUtil: 80},
		"missing metric on scale-down counts as 100%":   {current: 4, target: 50, pods: readyPods(1000, 1000, 1000, 1000), metrics: usage(100, 100, 100, -1), want: 3, wantUtil: 10},
		"missing metric reverses scale-down: no change": {current: 2, target: 50, pods: readyPods(1000, 1000), metrics: usage(400, -1), want: 2, wantUtil: 40},
		"failed pods are ignored":                       {current: 2, target: 50, pods: failed(readyPods(1000, 1000), 1), metrics: usage(1000, -1), want: 2, wantUtil: 100},
		"missing request for cpu":                       {current: 1, target: 50, pods: noRequest(readyPods(100)), metrics: usage(50), wantErr: "missing request for cpu in container c of Pod p0"},
		"no metrics":                                    {current: 1, target: 50, pods: readyPods(100), metrics: usage(-1), wantErr: "did not receive metrics for targeted pods"},
		"no pods":                                       {current: 1, target: 50, metrics: usage(), wantErr: "no pods returned by selector"},
		"memory ignores readiness":                      {current: 3, target: 30, pods: unready(readyPods(1000, 1000, 1000), 0), metrics: usage(300000, 500000, 700000), resource: "memory", want: 5, wantUtil: 50},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := tc.resource
			if res == "" {
				res = "cpu"
			}
			got, util, _, err := NewCalculator().ResourceReplicas(t0, tc.current, tc.target, res, "", tc.pods, tc.metrics)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || util != tc.wantUtil {
				t.Fatalf("replicas, utilization = %d, %d; want %d, %d", got, util, tc.want, tc.wantUtil)
			}
		})
	}
}

func TestCPUInitialization(t *testing.T) {
	start := t0.Add(-time.Minute)
	cases := map[string]struct {
		pod  Pod
		want bool // counted ready
	}{
		"ready, metric after readiness":           {pod: Pod{Phase: PodRunning, StartTime: &start, Ready: &ReadyCondition{true, t0.Add(-50 * time.Second)}}, want: true},
		"ready, metric window overlaps readiness": {pod: Pod{Phase: PodRunning, StartTime: &start, Ready: &ReadyCondition{true, t0.Add(-10 * time.Second)}}, want: false},
		"no readiness condition":                  {pod: Pod{Phase: PodRunning, StartTime: &start}, want: false},
		"old pod unready after being ready":       {pod: Pod{Phase: PodRunning, StartTime: ptr(t0.Add(-time.Hour)), Ready: &ReadyCondition{false, t0.Add(-time.Minute)}}, want: true},
		"old pod never ready":                     {pod: Pod{Phase: PodRunning, StartTime: ptr(t0.Add(-time.Hour)), Ready: &ReadyCondition{false, t0.Add(-time.Hour + 10*time.Second)}}, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.pod.Name = "p0"
			n, _, _, _ := NewCalculator().groupPods(t0, []Pod{tc.pod}, usage(100), "cpu")
			if (n == 1) != tc.want {
				t.Fatalf("ready count %d, want ready %v", n, tc.want)
			}
		})
	}
}

func TestPlainReplicas(t *testing.T) {
	cases := map[string]struct {
		current int32
		target  int64
		metrics PodMetrics
		want    int32
		wantAvg int64
	}{
		"average value scale up":          {current: 2, target: 500, metrics: usage(1000, 1000), want: 4, wantAvg: 1000},
		"average value within tolerance":  {current: 2, target: 1000, metrics: usage(1050, 1000), want: 2, wantAvg: 1025},
		"missing on scale-down is target": {current: 3, target: 1000, metrics: usage(100, 100, -1), want: 2, wantAvg: 100},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pods := readyPods(make([]int64, tc.current)...)
			got, avg, err := NewCalculator().PlainReplicas(t0, tc.current, tc.target, "", pods, tc.metrics)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || avg != tc.wantAvg {
				t.Fatalf("got %d avg %d, want %d avg %d", got, avg, tc.want, tc.wantAvg)
			}
		})
	}
}

func TestObjectAndExternal(t *testing.T) {
	c := NewCalculator()
	if got, _ := c.UsageRatioReplicas(2, 2.0, readyPods(1, 1)); got != 4 {
		t.Fatalf("Value target: got %d, want 4", got)
	}
	if got, _ := c.UsageRatioReplicas(2, 1.05, readyPods(1, 1)); got != 2 {
		t.Fatalf("Value target in tolerance: got %d, want 2", got)
	}
	if got, avg := c.PerPodReplicas(2, 3000, 500); got != 6 || avg != 1500 {
		t.Fatalf("AverageValue target: got %d avg %d, want 6 avg 1500", got, avg)
	}
}
