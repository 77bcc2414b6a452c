// Package metrics is the node service's metrics-server: the sim.podwarden.io/v1 Load
// objects and the usage they give the running pods (metrics.k8s.io PodMetrics and
// NodeMetrics), plus the custom and external metrics the Loads name.
package metrics

import (
	"time"

	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
)

// Idle usage of a running pod that no Load reaches (milli-units): no cpu (an idle
// nginx rounds to 0m) and a few MiB of memory.
const (
	IdleCPUMilli    = 0
	IdleMemoryMilli = 4 * 1024 * 1024 * 1000
)

// Window is the sampling window reported with every metric.
const Window = 30 * time.Second

// Usage is one pod's usage in milli-units.
type Usage struct {
	CPU, Memory int64
	// Custom are the named metrics of the Loads reaching the pod.
	Custom map[string]int64
}

type parsedLoad struct {
	load   *metricsv1.Load
	sel    k8slabels.Selector
	ready  int
	cpu    int64
	memory int64
	custom map[string]int64
}

// Running reports whether a pod is running and not being deleted (metrics-server
// reports only those).
func Running(p *corev1.Pod) bool {
	return p.GetStatus().GetPhase() == podutil.PodRunning && p.GetMetadata().GetDeletionTimestamp() == nil
}

// PodUsage computes the usage of every running pod of pods (keyed namespace/name):
// each Load's totals are shared equally over the ready running pods its selector
// matches in its namespace; a running pod no Load reaches (or not ready) idles.
func PodUsage(pods []*corev1.Pod, loads []*metricsv1.Load) map[string]Usage {
	var parsed []*parsedLoad
	for _, l := range loads {
		sel, err := labels.Parse(l.GetSpec().GetSelector())
		if err != nil || sel.Empty() {
			continue
		}
		pl := &parsedLoad{load: l, sel: sel, cpu: defaults.MilliValue(l.GetSpec().GetCpu()),
			memory: defaults.MilliValue(l.GetSpec().GetMemory()), custom: map[string]int64{}}
		for name, v := range l.GetSpec().GetMetrics() {
			pl.custom[name] = defaults.MilliValue(v)
		}
		parsed = append(parsed, pl)
	}
	matches := func(pl *parsedLoad, p *corev1.Pod) bool {
		return pl.load.GetMetadata().GetNamespace() == p.GetMetadata().GetNamespace() &&
			pl.sel.Matches(k8slabels.Set(p.GetMetadata().GetLabels()))
	}
	for _, p := range pods {
		if !Running(p) || !podutil.IsPodReady(p) {
			continue
		}
		for _, pl := range parsed {
			if matches(pl, p) {
				pl.ready++
			}
		}
	}
	out := map[string]Usage{}
	for _, p := range pods {
		if !Running(p) {
			continue
		}
		u := Usage{CPU: IdleCPUMilli, Memory: IdleMemoryMilli, Custom: map[string]int64{}}
		if podutil.IsPodReady(p) {
			for _, pl := range parsed {
				if !matches(pl, p) || pl.ready == 0 {
					continue
				}
				n := int64(pl.ready)
				// Rounded up like the HPA reads metrics-server's nanocores (MilliValue).
				u.CPU += ceilDiv(pl.cpu, n)
				u.Memory += pl.memory / n
				for name, v := range pl.custom {
					u.Custom[name] += ceilDiv(v, n)
				}
			}
		}
		out[p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName()] = u
	}
	return out
}

// ContainerUsage splits a pod's usage over its containers, in proportion to their
// cpu (resp. memory) requests, equally when none has one; the first container
// takes the rounding remainder.
func ContainerUsage(p *corev1.Pod, u Usage) []*metricsv1.ContainerMetrics {
	cs := p.GetSpec().GetContainers()
	if len(cs) == 0 {
		return nil
	}
	split := func(total int64, res string) []int64 {
		weights := make([]int64, len(cs))
		var sum int64
		for i, c := range cs {
			weights[i] = defaults.MilliValue(c.GetResources().GetRequests()[res])
			sum += weights[i]
		}
		if sum == 0 {
			for i := range weights {
				weights[i] = 1
			}
			sum = int64(len(cs))
		}
		parts := make([]int64, len(cs))
		var given int64
		for i := range cs {
			parts[i] = total * weights[i] / sum
			given += parts[i]
		}
		parts[0] += total - given
		return parts
	}
	cpu, mem := split(u.CPU, "cpu"), split(u.Memory, "memory")
	out := make([]*metricsv1.ContainerMetrics, len(cs))
	for i, c := range cs {
		out[i] = &metricsv1.ContainerMetrics{Name: c.GetName(), Usage: map[string]*structpbValue{
			"cpu": cpuQuantity(cpu[i]), "memory": memoryQuantity(mem[i]),
		}}
	}
	return out
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return a / b
	}
	return (a + b - 1) / b
}
