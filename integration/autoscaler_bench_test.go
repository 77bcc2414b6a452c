package integration

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

// TestAutoscalerBenchmark is the benchmark: N HPAs over N one-replica
// Deployments at a 1 s sync period; it reports the autoscaler's (and the whole
// system's) CPU-seconds per sync round and the delay from a load change to the scale
// call. Run with PODWARDEN_HPA_BENCH=500 (skipped otherwise).
func TestAutoscalerBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PODWARDEN_HPA_BENCH"))
	if n <= 0 {
		t.Skip("set PODWARDEN_HPA_BENCH=<number of autoscalers> to run")
	}
	s := startSystem(t, harness.Options{Nodes: 2 + n/100, Env: []string{"PODWARDEN_HPA_SYNC_PERIOD=1s",
		"PODWARDEN_HPA_CPU_INITIALIZATION_PERIOD=1s", "PODWARDEN_HPA_INITIAL_READINESS_DELAY=1s", "PODWARDEN_LOG_LEVEL=warn"}})
	a := api{t: t, base: s.GatewayURL}
	for i := range n {
		name := fmt.Sprintf("bench-%d", i)
		a.expect(a.postJSON(deployPath, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"replicas": 1, "selector": map[string]any{"matchLabels": map[string]any{"app": name}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": name}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "nginx", "image": "nginx",
						"resources": map[string]any{"requests": map[string]any{"cpu": "10m"}}}}}}}}), http.StatusCreated, name)
		a.expect(a.postJSON(hpaPath, map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": name}, "maxReplicas": 3,
				"metrics": []any{map[string]any{"type": "Resource", "resource": map[string]any{"name": "cpu",
					"target": map[string]any{"type": "Utilization", "averageUtilization": 50}}}}}}), http.StatusCreated, name+" hpa")
	}
	eventually(t, 5*time.Minute, "every autoscaler reading its metric", func() (bool, string) {
		ok := 0
		for _, h := range items(a.mustGet(hpaPath)) {
			if str(path(condition(h, "ScalingActive"), "reason")) == "ValidMetricFound" {
				ok++
			}
		}
		return ok == n, fmt.Sprintf("%d/%d", ok, n)
	})

	autoscaler := hpaBenchPIDs(s, "podwarden-autoscaler")
	window := 10 * time.Second
	cpuA, cpuAll := hpaBenchCPU(autoscaler), hpaBenchCPU(s.PIDs())
	time.Sleep(window) // measuring steady state: the window is the measurement, not a wait for a condition
	rounds := window.Seconds() / 1.0
	t.Logf("autoscaler CPU per sync round of %d HPAs: %.3f cpu-s; whole system: %.3f cpu-s",
		n, (hpaBenchCPU(autoscaler)-cpuA)/rounds, (hpaBenchCPU(s.PIDs())-cpuAll)/rounds)

	var delays []time.Duration
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("bench-%d", i)
		start := time.Now()
		a.expect(a.postJSON(loadPath, map[string]any{"apiVersion": "sim.podwarden.io/v1", "kind": "Load", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"selector": "app=" + name, "cpu": "50m"}}), http.StatusCreated, "load")
		eventually(t, 30*time.Second, name+" scaled", func() (bool, string) {
			spec, _ := deploymentReplicas(a, name)
			return spec > 1, fmt.Sprint(spec)
		})
		delays = append(delays, time.Since(start))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("load change -> scale call (5 samples, 1 s sync period): median %v, max %v", delays[2].Round(time.Millisecond), delays[4].Round(time.Millisecond))
}

func hpaBenchPIDs(s *harness.System, binary string) []int {
	var out []int
	for _, pid := range s.PIDs() {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(b), binary) {
			out = append(out, pid)
		}
	}
	return out
}

// hpaBenchCPU sums user+system CPU seconds of the processes (/proc/<pid>/stat).
func hpaBenchCPU(pids []int) float64 {
	total := 0.0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		st := string(b)
		f := strings.Fields(st[strings.LastIndexByte(st, ')')+2:])
		if len(f) > 12 {
			u, _ := strconv.ParseFloat(f[11], 64)
			k, _ := strconv.ParseFloat(f[12], 64)
			total += (u + k) / 100
		}
	}
	return total
}
