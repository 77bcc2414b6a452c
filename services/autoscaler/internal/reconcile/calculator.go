// Package reconcile holds the autoscaler's pure decisions: the replica calculator
// (Kubernetes' pkg/controller/podautoscaler/replica_calculator.go) and the behavior
// engine (stabilization windows, scaling policies, clamping) of horizontal.go. No I/O:
// the controller gathers pods, metrics and history, then asks these functions.
package reconcile

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Pod phases used by the calculator.
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
)

// Kubernetes' defaults of the controller flags.
const (
	DefaultTolerance                     = 0.1
	DefaultCPUInitializationPeriod       = 5 * time.Minute
	DefaultDelayOfInitialReadinessStatus = 30 * time.Second
)

// Pod is what the calculator needs of a pod of the scale target.
type Pod struct {
	Name    string
	Phase   string
	Deleted bool
	// Ready is the PodReady condition (nil when absent).
	Ready *ReadyCondition
	// StartTime is status.startTime (nil when unset).
	StartTime *time.Time
	// Containers in spec order, with their requests in milli-units (cpu: millicores).
	Containers []Container
}

// ReadyCondition is the PodReady condition.
type ReadyCondition struct {
	Status             bool
	LastTransitionTime time.Time
}

// Container is a container's name and requests (resource -> milli-units).
type Container struct {
	Name     string
	Requests map[string]int64
}

// PodMetric is one pod's usage (milli-units) sampled at Timestamp over Window.
type PodMetric struct {
	Timestamp time.Time
	Window    time.Duration
	Value     int64
}

// PodMetrics maps pod names to their metric.
type PodMetrics map[string]PodMetric

// Calculator computes replica counts (ReplicaCalculator).
type Calculator struct {
	Tolerance                     float64
	CPUInitializationPeriod       time.Duration
	DelayOfInitialReadinessStatus time.Duration
}

// NewCalculator returns a calculator with Kubernetes' defaults.
func NewCalculator() Calculator {
	return Calculator{Tolerance: DefaultTolerance, CPUInitializationPeriod: DefaultCPUInitializationPeriod,
		DelayOfInitialReadinessStatus: DefaultDelayOfInitialReadinessStatus}
}

var errNoPods = errors.New("no pods returned by selector while calculating replica count")

// ResourceReplicas is GetResourceReplicas: the replica count for a target utilization
// (percent of request) of resource, over container ("" = all containers). It returns
// the count, the current utilization and the raw average usage.
func (c Calculator) ResourceReplicas(now time.Time, currentReplicas, targetUtilization int32, resource, container string,
	pods []Pod, metrics PodMetrics) (replicas, utilization int32, rawUtilization int64, err error) {
	if len(pods) == 0 {
		return 0, 0, 0, errNoPods
	}
	metrics = copyMetrics(metrics)
	readyPodCount, unready, missing, ignored := c.groupPods(now, pods, metrics, resource)
	removeMetrics(metrics, ignored)
	removeMetrics(metrics, unready)
	if len(metrics) == 0 {
		return 0, 0, 0, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	requests, err := podRequests(pods, container, resource)
	if err != nil {
		return 0, 0, 0, err
	}
	usageRatio, utilization, rawUtilization, err := utilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, 0, 0, err
	}
	scaleUpWithUnready := len(unready) > 0 && usageRatio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if math.Abs(1.0-usageRatio) <= c.Tolerance {
			return currentReplicas, utilization, rawUtilization, nil
		}
		return int32(math.Ceil(usageRatio * float64(readyPodCount))), utilization, rawUtilization, nil
	}
	if len(missing) > 0 {
		if usageRatio < 1.0 {
			// On a scale-down, missing pods count as using 100% (or the target, if higher) of their request.
			fallback := int64(max(100, targetUtilization))
			for name := range missing {
				metrics[name] = PodMetric{Value: requests[name] * fallback / 100}
			}
		} else if usageRatio > 1.0 {
			// On a scale-up, missing pods count as using nothing.
			for name := range missing {
				metrics[name] = PodMetric{Value: 0}
			}
		}
	}
	if scaleUpWithUnready {
		for name := range unready {
			metrics[name] = PodMetric{Value: 0}
		}
	}
	newUsageRatio, _, _, err := utilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, 0, 0, err
	}
	if math.Abs(1.0-newUsageRatio) <= c.Tolerance || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0) {
		// The fallbacks reversed or cancelled the direction: do nothing.
		return currentReplicas, utilization, rawUtilization, nil
	}
	newReplicas := int32(math.Ceil(newUsageRatio * float64(len(metrics))))
	if (newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas) {
		return currentReplicas, utilization, rawUtilization, nil
	}
	return newReplicas, utilization, rawUtilization, nil
}

// PlainReplicas is calcPlainMetricReplicas: the replica count for a target average
// value (milli-units) of a per-pod metric (resource "cpu" applies the readiness rules).
// It returns the count and the current average usage.
func (c Calculator) PlainReplicas(now time.Time, currentReplicas int32, targetUsage int64, resource string,
	pods []Pod, metrics PodMetrics) (replicas int32, usage int64, err error) {
	if len(pods) == 0 {
		return 0, 0, errNoPods
	}
	metrics = copyMetrics(metrics)
	readyPodCount, unready, missing, ignored := c.groupPods(now, pods, metrics, resource)
	removeMetrics(metrics, ignored)
	removeMetrics(metrics, unready)
	if len(metrics) == 0 {
		return 0, 0, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	usageRatio, usage := usageRatioOf(metrics, targetUsage)
	scaleUpWithUnready := len(unready) > 0 && usageRatio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if math.Abs(1.0-usageRatio) <= c.Tolerance {
			return currentReplicas, usage, nil
		}
		return int32(math.Ceil(usageRatio * float64(readyPodCount))), usage, nil
	}
	if len(missing) > 0 {
		if usageRatio < 1.0 {
			for name := range missing {
				metrics[name] = PodMetric{Value: targetUsage}
			}
		} else {
			for name := range missing {
				metrics[name] = PodMetric{Value: 0}
			}
		}
	}
	if scaleUpWithUnready {
		for name := range unready {
			metrics[name] = PodMetric{Value: 0}
		}
	}
	newUsageRatio, _ := usageRatioOf(metrics, targetUsage)
	if math.Abs(1.0-newUsageRatio) <= c.Tolerance || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0) {
		return currentReplicas, usage, nil
	}
	newReplicas := int32(math.Ceil(newUsageRatio * float64(len(metrics))))
	if (newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas) {
		return currentReplicas, usage, nil
	}
	return newReplicas, usage, nil
}

// UsageRatioReplicas is getUsageRatioReplicaCount (Object and External Value targets):
// ceil(ratio x ready pods), or ceil(ratio) when the target is at zero replicas.
func (c Calculator) UsageRatioReplicas(currentReplicas int32, usageRatio float64, pods []Pod) (int32, error) {
	if currentReplicas == 0 {
		return int32(math.Ceil(usageRatio)), nil
	}
	if math.Abs(1.0-usageRatio) <= c.Tolerance {
		return currentReplicas, nil
	}
	if len(pods) == 0 {
		return 0, errNoPods
	}
	ready := 0
	for _, p := range pods {
		if p.Phase == PodRunning && p.Ready != nil && p.Ready.Status {
			ready++
		}
	}
	return int32(math.Ceil(usageRatio * float64(ready))), nil
}

// PerPodReplicas is GetObjectPerPodMetricReplicas / GetExternalPerPodMetricReplicas
// (AverageValue targets): usage is the total, divided over statusReplicas.
func (c Calculator) PerPodReplicas(statusReplicas int32, usage, targetAverage int64) (replicas int32, average int64) {
	replicas = statusReplicas
	ratio := float64(usage) / (float64(targetAverage) * float64(replicas))
	if math.Abs(1.0-ratio) > c.Tolerance {
		replicas = int32(math.Ceil(float64(usage) / float64(targetAverage)))
	}
	if statusReplicas > 0 {
		average = int64(math.Ceil(float64(usage) / float64(statusReplicas)))
	}
	return replicas, average
}

// groupPods is Kubernetes' groupPods: deleted and failed pods are ignored; pending
// pods are unready; pods without a metric are missing; for cpu, a pod is unready
// while it is not ready or its metric predates readiness within the initialization
// period, or when it never became ready after the initial readiness delay.
func (c Calculator) groupPods(now time.Time, pods []Pod, metrics PodMetrics, resource string) (readyPodCount int, unready, missing, ignored map[string]bool) {
	unready, missing, ignored = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range pods {
		if p.Deleted || p.Phase == PodFailed || p.Phase == PodSucceeded {
			ignored[p.Name] = true
			continue
		}
		if p.Phase == PodPending {
			unready[p.Name] = true
			continue
		}
		m, found := metrics[p.Name]
		if !found {
			missing[p.Name] = true
			continue
		}
		if resource == "cpu" {
			var isUnready bool
			if p.Ready == nil || p.StartTime == nil {
				isUnready = true
			} else if p.StartTime.Add(c.CPUInitializationPeriod).After(now) {
				isUnready = !p.Ready.Status || m.Timestamp.Before(p.Ready.LastTransitionTime.Add(m.Window))
			} else {
				isUnready = !p.Ready.Status && p.StartTime.Add(c.DelayOfInitialReadinessStatus).After(p.Ready.LastTransitionTime)
			}
			if isUnready {
				unready[p.Name] = true
				continue
			}
		}
		readyPodCount++
	}
	return readyPodCount, unready, missing, ignored
}

// podRequests sums each pod's requests of resource over container ("" = all).
func podRequests(pods []Pod, container, resource string) (map[string]int64, error) {
	out := make(map[string]int64, len(pods))
	for _, p := range pods {
		var sum int64
		for _, ct := range p.Containers {
			if container != "" && ct.Name != container {
				continue
			}
			r, ok := ct.Requests[resource]
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, ct.Name, p.Name)
			}
			sum += r
		}
		out[p.Name] = sum
	}
	return out, nil
}

// utilizationRatio is GetResourceUtilizationRatio.
func utilizationRatio(metrics PodMetrics, requests map[string]int64, target int32) (ratio float64, utilization int32, raw int64, err error) {
	var metricsTotal, requestsTotal, n int64
	for name, m := range metrics {
		r, ok := requests[name]
		if !ok {
			continue
		}
		metricsTotal += m.Value
		requestsTotal += r
		n++
	}
	if requestsTotal == 0 {
		return 0, 0, 0, errors.New("no metrics returned matched known pods")
	}
	utilization = int32(metricsTotal * 100 / requestsTotal)
	return float64(utilization) / float64(target), utilization, metricsTotal / n, nil
}

// usageRatioOf is GetMetricUsageRatio.
func usageRatioOf(metrics PodMetrics, target int64) (float64, int64) {
	var total int64
	for _, m := range metrics {
		total += m.Value
	}
	usage := total / int64(len(metrics))
	return float64(usage) / float64(target), usage
}

func copyMetrics(m PodMetrics) PodMetrics {
	out := make(PodMetrics, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func removeMetrics(m PodMetrics, names map[string]bool) {
	for n := range names {
		delete(m, n)
	}
}
