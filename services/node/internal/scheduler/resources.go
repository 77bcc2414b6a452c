package scheduler

import (
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/shared/defaults"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Resource names the scheduler accounts for by name.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
	ResourcePods   = "pods"
)

// The requests Kubernetes assumes for scoring when a container sets none
// (DefaultMilliCPURequest, DefaultMemoryRequest).
const (
	defaultMilliCPURequest int64 = 100
	defaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// Resources is a resource list in integer units: millicores for cpu, the
// integer value (bytes, count) for everything else.
type Resources map[string]int64

func amount(name string, v *structpb.Value) int64 {
	if name == ResourceCPU {
		return defaults.MilliValue(v)
	}
	return defaults.Value(v)
}

// ResourceList converts a proto quantity map.
func ResourceList(m map[string]*structpb.Value) Resources {
	out := make(Resources, len(m))
	for k, v := range m {
		out[k] = amount(k, v)
	}
	return out
}

func (r Resources) add(o Resources) {
	for k, v := range o {
		r[k] += v
	}
}

// addScaled adds sign times o (sign -1 takes o away).
func (r Resources) addScaled(o Resources, sign int64) {
	for k, v := range o {
		r[k] += sign * v
	}
}

func (r Resources) maxWith(o Resources) {
	for k, v := range o {
		if v > r[k] {
			r[k] = v
		}
	}
}

// PodRequests is what a pod asks of a node, as Kubernetes computes it
// (resourcehelper.PodRequests): the sum of the containers' requests and of
// the sidecar (restartPolicy Always) init containers', at least each regular
// init container's requests plus the sidecars started before it, plus the
// pod overhead.
func PodRequests(pod *corev1.Pod) Resources {
	return podRequests(pod, false)
}

// podRequests with nonZero applies the scoring defaults (100m cpu, 200Mi
// memory) to containers that request nothing.
func podRequests(pod *corev1.Pod, nonZero bool) Resources {
	containerReqs := func(c *corev1.Container) Resources {
		r := ResourceList(c.GetResources().GetRequests())
		if nonZero {
			if _, ok := c.GetResources().GetRequests()[ResourceCPU]; !ok {
				r[ResourceCPU] = defaultMilliCPURequest
			}
			if _, ok := c.GetResources().GetRequests()[ResourceMemory]; !ok {
				r[ResourceMemory] = defaultMemoryRequest
			}
		}
		return r
	}
	sum := Resources{}
	for _, c := range pod.GetSpec().GetContainers() {
		sum.add(containerReqs(c))
	}
	sidecars := Resources{}
	initMax := Resources{}
	for _, c := range pod.GetSpec().GetInitContainers() {
		r := containerReqs(c)
		if c.GetRestartPolicy() == "Always" {
			sum.add(r)
			sidecars.add(r)
			continue
		}
		r.add(sidecars)
		initMax.maxWith(r)
	}
	sum.maxWith(initMax)
	sum.add(ResourceList(pod.GetSpec().GetOverhead()))
	return sum
}

// Allocatable is the node's status.allocatable (capacity when unset).
func Allocatable(node *nodev1.Node) Resources {
	if a := node.GetStatus().GetAllocatable(); len(a) > 0 {
		return ResourceList(a)
	}
	return ResourceList(node.GetStatus().GetCapacity())
}
