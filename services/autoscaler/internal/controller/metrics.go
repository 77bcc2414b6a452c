package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/podwarden/podwarden/services/autoscaler/internal/reconcile"
	"github.com/podwarden/podwarden/shared/defaults"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podutil"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
)

// observed is what one sync read about the target's pods.
type observed struct {
	namespace      string
	selector       string
	specReplicas   int32
	statusReplicas int32
	pods           []reconcile.Pod
	// podMetrics is fetched on first use (nil until then).
	podMetrics []*metricsv1.PodMetrics
	podErr     error
	fetched    bool
}

// toPods converts the node service's pods for the calculator.
func toPods(in []*corev1.Pod) []reconcile.Pod {
	out := make([]reconcile.Pod, 0, len(in))
	for _, p := range in {
		rp := reconcile.Pod{Name: p.GetMetadata().GetName(), Phase: p.GetStatus().GetPhase(), Deleted: p.GetMetadata().GetDeletionTimestamp() != nil}
		if st := p.GetStatus().GetStartTime(); st != nil {
			t := st.AsTime()
			rp.StartTime = &t
		}
		if c := podutil.GetPodReadyCondition(p.GetStatus()); c != nil {
			rp.Ready = &reconcile.ReadyCondition{Status: c.GetStatus() == podutil.ConditionTrue, LastTransitionTime: c.GetLastTransitionTime().AsTime()}
		}
		for _, c := range p.GetSpec().GetContainers() {
			req := map[string]int64{}
			for name, v := range c.GetResources().GetRequests() {
				req[name] = defaults.MilliValue(v)
			}
			rp.Containers = append(rp.Containers, reconcile.Container{Name: c.GetName(), Requests: req})
		}
		out = append(out, rp)
	}
	return out
}

func milliQuantity(v int64) *structpb.Value {
	return defaults.QuantityValue(*resource.NewMilliQuantity(v, resource.DecimalSI))
}

func (c *Controller) resourceMetrics(ctx context.Context, o *observed, res, container string) (reconcile.PodMetrics, error) {
	if !o.fetched {
		o.podMetrics, o.podErr = c.metrics.PodMetrics(ctx, o.namespace, o.selector)
		o.fetched = true
	}
	if o.podErr != nil {
		return nil, fmt.Errorf("unable to get metrics for resource %s: unable to fetch metrics from resource metrics API: %v", res, o.podErr)
	}
	if len(o.podMetrics) == 0 {
		return nil, fmt.Errorf("unable to get metrics for resource %s: no metrics returned from resource metrics API", res)
	}
	out := reconcile.PodMetrics{}
	for _, pm := range o.podMetrics {
		var sum int64
		found := false
		for _, ct := range pm.GetContainers() {
			if container != "" && ct.GetName() != container {
				continue
			}
			if v, ok := ct.GetUsage()[res]; ok {
				sum += defaults.MilliValue(v)
				found = true
			}
		}
		if !found {
			continue
		}
		window, _ := time.ParseDuration(pm.GetWindow())
		out[pm.GetMetadata().GetName()] = reconcile.PodMetric{Timestamp: pm.GetTimestamp().AsTime(), Window: window, Value: sum}
	}
	return out, nil
}

// computeMetric is computeReplicasForMetric for one spec.metrics entry.
func (c *Controller) computeMetric(ctx context.Context, now time.Time, m *autoscalerv1.MetricSpec, o *observed) reconcile.MetricResult {
	calc := c.calc
	switch m.GetType() {
	case "Resource", "ContainerResource":
		name, container, target := m.GetResource().GetName(), "", m.GetResource().GetTarget()
		reason, kindName := "FailedGetResourceMetric", "resource"
		if m.GetType() == "ContainerResource" {
			name, container, target = m.GetContainerResource().GetName(), m.GetContainerResource().GetContainer(), m.GetContainerResource().GetTarget()
			reason, kindName = "FailedGetContainerResourceMetric", "container resource"
		}
		status := func(cur *autoscalerv1.MetricValueStatus) *autoscalerv1.MetricStatus {
			if container != "" {
				return &autoscalerv1.MetricStatus{Type: m.GetType(), ContainerResource: &autoscalerv1.ContainerResourceMetricStatus{Name: name, Container: container, Current: cur}}
			}
			return &autoscalerv1.MetricStatus{Type: m.GetType(), Resource: &autoscalerv1.ResourceMetricStatus{Name: name, Current: cur}}
		}
		metrics, err := c.resourceMetrics(ctx, o, name, container)
		if target.AverageValue != nil {
			if err == nil {
				var r int32
				var usage int64
				r, usage, err = calc.PlainReplicas(now, o.specReplicas, defaults.MilliValue(target.AverageValue), name, o.pods, metrics)
				if err == nil {
					return reconcile.MetricResult{Replicas: r, Name: fmt.Sprintf("%s %s", name, kindName),
						Status: status(&autoscalerv1.MetricValueStatus{AverageValue: milliQuantity(usage)})}
				}
			}
			return reconcile.MetricResult{Err: fmt.Errorf("failed to get %s usage: %v", name, err), FailReason: reason, Status: status(nil)}
		}
		if target.AverageUtilization == nil {
			return reconcile.MetricResult{Err: errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set"), FailReason: reason}
		}
		if err == nil {
			r, util, raw, cerr := calc.ResourceReplicas(now, o.specReplicas, target.GetAverageUtilization(), name, container, o.pods, metrics)
			if cerr == nil {
				return reconcile.MetricResult{Replicas: r, Name: fmt.Sprintf("%s %s utilization (percentage of request)", name, kindName),
					Status: status(&autoscalerv1.MetricValueStatus{AverageUtilization: &util, AverageValue: milliQuantity(raw)})}
			}
			err = cerr
		}
		return reconcile.MetricResult{Err: fmt.Errorf("failed to get %s utilization: %v", name, err), FailReason: reason, Status: status(nil)}
	case "Pods":
		p := m.GetPods()
		vals, err := c.metrics.PodCustomMetrics(ctx, o.namespace, o.selector, p.GetMetric().GetName())
		if err == nil && len(vals) == 0 {
			err = fmt.Errorf("no metrics returned from custom metrics API")
		}
		if err == nil {
			metrics := reconcile.PodMetrics{}
			for _, v := range vals {
				metrics[v.GetDescribedObject().GetName()] = reconcile.PodMetric{Timestamp: v.GetTimestamp().AsTime(), Value: defaults.MilliValue(v.GetValue())}
			}
			r, usage, cerr := calc.PlainReplicas(now, o.specReplicas, defaults.MilliValue(p.GetTarget().GetAverageValue()), "", o.pods, metrics)
			if cerr == nil {
				return reconcile.MetricResult{Replicas: r, Name: "pods metric " + p.GetMetric().GetName(),
					Status: &autoscalerv1.MetricStatus{Type: "Pods", Pods: &autoscalerv1.PodsMetricStatus{Metric: p.GetMetric(),
						Current: &autoscalerv1.MetricValueStatus{AverageValue: milliQuantity(usage)}}}}
			}
			err = cerr
		}
		return reconcile.MetricResult{Err: fmt.Errorf("failed to get pods metric value: %v", err), FailReason: "FailedGetPodsMetric"}
	case "Object":
		obj := m.GetObject()
		v, err := c.metrics.ObjectMetric(ctx, o.namespace, obj.GetDescribedObject().GetKind(), obj.GetDescribedObject().GetName(), obj.GetMetric().GetName())
		if err == nil {
			usage := defaults.MilliValue(v.GetValue())
			st := &autoscalerv1.MetricStatus{Type: "Object", Object: &autoscalerv1.ObjectMetricStatus{Metric: obj.GetMetric(), DescribedObject: obj.GetDescribedObject()}}
			name := fmt.Sprintf("%s metric %s", obj.GetDescribedObject().GetKind(), obj.GetMetric().GetName())
			if obj.GetTarget().GetType() == "Value" && obj.GetTarget().Value != nil {
				r, cerr := calc.UsageRatioReplicas(o.specReplicas, float64(usage)/float64(defaults.MilliValue(obj.GetTarget().GetValue())), o.pods)
				if cerr == nil {
					st.Object.Current = &autoscalerv1.MetricValueStatus{Value: milliQuantity(usage)}
					return reconcile.MetricResult{Replicas: r, Name: name, Status: st}
				}
				err = cerr
			} else {
				r, avg := calc.PerPodReplicas(o.statusReplicas, usage, defaults.MilliValue(obj.GetTarget().GetAverageValue()))
				st.Object.Current = &autoscalerv1.MetricValueStatus{AverageValue: milliQuantity(avg)}
				return reconcile.MetricResult{Replicas: r, Name: name, Status: st}
			}
		}
		return reconcile.MetricResult{Err: fmt.Errorf("failed to get object metric value: %v", err), FailReason: "FailedGetObjectMetric"}
	case "External":
		ext := m.GetExternal()
		vals, err := c.metrics.ExternalMetrics(ctx, o.namespace, ext.GetMetric().GetName(), labels.String(ext.GetMetric().GetSelector()))
		if err == nil && len(vals) == 0 {
			err = fmt.Errorf("no metrics returned from external metrics API")
		}
		if err == nil {
			var usage int64
			for _, v := range vals {
				usage += defaults.MilliValue(v.GetValue())
			}
			st := &autoscalerv1.MetricStatus{Type: "External", External: &autoscalerv1.ExternalMetricStatus{Metric: ext.GetMetric()}}
			name := fmt.Sprintf("external metric %s(%s)", ext.GetMetric().GetName(), labels.String(ext.GetMetric().GetSelector()))
			if ext.GetTarget().GetType() == "Value" && ext.GetTarget().Value != nil {
				r, cerr := calc.UsageRatioReplicas(o.specReplicas, float64(usage)/float64(defaults.MilliValue(ext.GetTarget().GetValue())), o.pods)
				if cerr == nil {
					st.External.Current = &autoscalerv1.MetricValueStatus{Value: milliQuantity(usage)}
					return reconcile.MetricResult{Replicas: r, Name: name, Status: st}
				}
				err = cerr
			} else {
				r, avg := calc.PerPodReplicas(o.statusReplicas, usage, defaults.MilliValue(ext.GetTarget().GetAverageValue()))
				st.External.Current = &autoscalerv1.MetricValueStatus{AverageValue: milliQuantity(avg)}
				return reconcile.MetricResult{Replicas: r, Name: name, Status: st}
			}
		}
		return reconcile.MetricResult{Err: fmt.Errorf("failed to get %s external metric value: %v", ext.GetMetric().GetName(), err), FailReason: "FailedGetExternalMetric"}
	}
	return reconcile.MetricResult{Err: fmt.Errorf("unknown metric source type %q", m.GetType()), FailReason: "InvalidMetricSourceType"}
}
