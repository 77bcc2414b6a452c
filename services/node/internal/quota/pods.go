package quota

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// The resource names a quota counts pods with.
const (
	Pods           = "pods"
	CountPods      = "count/pods"
	CPU            = "cpu"
	Memory         = "memory"
	RequestsCPU    = "requests.cpu"
	RequestsMemory = "requests.memory"
	LimitsCPU      = "limits.cpu"
	LimitsMemory   = "limits.memory"
	Ephemeral      = "ephemeral-storage"
)

// podResources are the pod evaluator's resources (beyond the hugepages and
// extended "requests." prefixes).
var podResources = []string{CountPods, Pods, CPU, Memory, Ephemeral, RequestsCPU, RequestsMemory, "requests.ephemeral-storage",
	LimitsCPU, LimitsMemory, "limits.ephemeral-storage"}

// computeResources are those a quota on them makes every container state
// (Kubernetes' validationSet: a backward-compatibility rule of the pod evaluator).
var computeResources = []string{CPU, Memory, RequestsCPU, RequestsMemory, LimitsCPU, LimitsMemory}

// isPodResource reports whether a quota's resource name is one pods are charged in.
func isPodResource(name string) bool {
	if slices.Contains(podResources, name) {
		return true
	}
	for _, p := range []string{"hugepages-", "requests.hugepages-", "limits.hugepages-"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	// Extended resources ("requests.example.com/gpu") are quota'd as requests only.
	return strings.HasPrefix(name, "requests.") && strings.Contains(name, "/")
}

// PodResourceNames is the part of names pods are charged in (MatchingResources).
func PodResourceNames(names []string) []string {
	var out []string
	for _, n := range names {
		if isPodResource(n) {
			out = append(out, n)
		}
	}
	return out
}

// Counted is QuotaV1Pod: a pod is charged for its compute resources (and
// "pods") unless it is terminal, or was deleted and its grace period is over
// (a pod stuck terminating on a lost node must not block its replacement).
func Counted(p *corev1.Pod, now time.Time) bool {
	if podutil.IsPodTerminal(p) {
		return false
	}
	m := p.GetMetadata()
	if m.GetDeletionTimestamp() != nil && m.DeletionGracePeriodSeconds != nil {
		end := m.GetDeletionTimestamp().AsTime().Add(time.Duration(m.GetDeletionGracePeriodSeconds()) * time.Second)
		if now.After(end) {
			return false
		}
	}
	return true
}

// PodUsage is the pod evaluator's Usage: count/pods always (it counts stored
// objects), and pods, cpu, memory, requests.*, limits.* while Counted.
func PodUsage(p *corev1.Pod, now time.Time) List {
	out := List{CountPods: *resource.NewQuantity(1, resource.DecimalSI)}
	if !Counted(p, now) {
		return out
	}
	return Add(out, computeUsage(PodRequests(p), PodLimits(p)))
}

// computeUsage is podComputeUsageHelper: a pod (or container) with these
// requests and limits uses one "pods", its requests as "requests.X" and "X",
// its limits as "limits.X".
func computeUsage(requests, limits List) List {
	out := List{Pods: *resource.NewQuantity(1, resource.DecimalSI)}
	for _, r := range []string{CPU, Memory, Ephemeral} {
		if q, ok := requests[r]; ok {
			out[r] = q.DeepCopy()
			out["requests."+r] = q.DeepCopy()
		}
		if q, ok := limits[r]; ok {
			out["limits."+r] = q.DeepCopy()
		}
	}
	for r, q := range requests {
		switch {
		case strings.HasPrefix(r, "hugepages-"):
			out[r] = q.DeepCopy()
			out["requests."+r] = q.DeepCopy()
		case strings.Contains(r, "/") && !strings.HasPrefix(r, "kubernetes.io/"):
			out["requests."+r] = q.DeepCopy()
		}
	}
	for r, q := range limits {
		if strings.HasPrefix(r, "hugepages-") {
			out["limits."+r] = q.DeepCopy()
		}
	}
	return out
}

// PodRequests is resourcehelper.PodRequests in quantities: the containers' and
// sidecars' requests, at least each regular init container's (plus the sidecars
// started before it), plus the pod overhead.
func PodRequests(p *corev1.Pod) List {
	return podAggregate(p, func(c *corev1.Container) List { return FromProto(c.GetResources().GetRequests()) }, true)
}

// PodLimits is resourcehelper.PodLimits: like PodRequests over limits; the
// overhead is added only to resources that have a limit.
func PodLimits(p *corev1.Pod) List {
	return podAggregate(p, func(c *corev1.Container) List { return FromProto(c.GetResources().GetLimits()) }, false)
}

func podAggregate(p *corev1.Pod, of func(*corev1.Container) List, allOverhead bool) List {
	sum := List{}
	for _, c := range p.GetSpec().GetContainers() {
		sum = Add(sum, of(c))
	}
	sidecars := List{}
	initMax := List{}
	for _, c := range p.GetSpec().GetInitContainers() {
		r := of(c)
		if c.GetRestartPolicy() == "Always" {
			sum = Add(sum, r)
			sidecars = Add(sidecars, r)
			continue
		}
		initMax = maxOf(initMax, Add(r, sidecars))
	}
	sum = maxOf(sum, initMax)
	for k, q := range FromProto(p.GetSpec().GetOverhead()) {
		if _, ok := sum[k]; ok || allOverhead {
			sum = Add(sum, List{k: q})
		}
	}
	return sum
}

func maxOf(a, b List) List {
	out := Add(a, nil)
	for k, q := range b {
		if cur, ok := out[k]; !ok || q.Cmp(cur) > 0 {
			out[k] = q.DeepCopy()
		}
	}
	return out
}

// PodConstraints is the pod evaluator's Constraints: when a quota limits a
// compute resource (cpu, memory, requests.*, limits.*), every container must
// state it. The error is Kubernetes' "must specify limits.cpu for: a,b; ...".
func PodConstraints(required []string, p *corev1.Pod) error {
	var req []string
	for _, r := range required {
		if slices.Contains(computeResources, r) {
			req = append(req, r)
		}
	}
	if len(req) == 0 {
		return nil
	}
	missing := map[string][]string{}
	check := func(c *corev1.Container) {
		usage := computeUsage(FromProto(c.GetResources().GetRequests()), FromProto(c.GetResources().GetLimits()))
		for _, r := range req {
			if _, ok := usage[r]; !ok && !slices.Contains(missing[r], c.GetName()) {
				missing[r] = append(missing[r], c.GetName())
			}
		}
	}
	for _, c := range p.GetSpec().GetContainers() {
		check(c)
	}
	for _, c := range p.GetSpec().GetInitContainers() {
		check(c)
	}
	if len(missing) == 0 {
		return nil
	}
	var segs []string
	for _, r := range slices.Sorted(maps.Keys(missing)) {
		names := slices.Clone(missing[r])
		slices.Sort(names)
		segs = append(segs, fmt.Sprintf("%s for: %s", r, strings.Join(names, ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(segs, "; "))
}
