package chaos

import (
	"context"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// hpaLoads are the total CPUs (millicores) a trial puts on the autoscaled pods: with
// 100m requested per pod and a 50% target, Kubernetes' replica calculator wants
// ceil(load/50m) replicas whatever the current count (load/50m is never within the
// 10% tolerance of a whole number of pods but the one it rounds up to).
var hpaLoads = []int{30, 80, 130, 180, 230, 280}

const (
	hpaMax      = 6
	hpaRequest  = 100 // millicores per pod
	hpaTarget   = 50  // percent
	hpaLoadName = "load"
)

// hpa: a Deployment with a HorizontalPodAutoscaler (cpu, 50% of 100m, 1-6 replicas)
// and a simulated Load on its pods; the step creates them, changes the load, or
// deletes the autoscaler. Converged: the autoscaler's current and desired replicas
// are what the load calls for, and the Deployment has rolled out that many.
type hpa struct {
	*deployment
	hpaUID types.UID
	load   int
	hdel   deletion
}

func newHPA(e *env) *hpa {
	d := newDeployment(e)
	d.name, d.replicas, d.cpu = "scaled", 1, fmt.Sprintf("%dm", hpaRequest)
	return &hpa{deployment: d, load: hpaLoads[e.r.IntN(len(hpaLoads))]}
}

func (h *hpa) Kind() string { return "hpa" }
func (h *hpa) Steps() []string {
	return append([]string{"load"}, deleteSteps...)
}

// expected is the replica count the load calls for.
func (h *hpa) expected() int32 {
	return int32(min(max((h.load+hpaRequest*hpaTarget/100-1)/(hpaRequest*hpaTarget/100), 1), hpaMax))
}

func (h *hpa) getHPA(ctx context.Context) (metav1.Object, error) {
	return h.cs.AutoscalingV2().HorizontalPodAutoscalers(h.ns).Get(ctx, h.deployment.name, metav1.GetOptions{})
}

func (h *hpa) loadPath() string {
	return "/apis/sim.podwarden.io/v1/namespaces/" + h.ns + "/loads"
}

func (h *hpa) Create(ctx context.Context) error {
	if err := h.deployment.Create(ctx); err != nil {
		return err
	}
	// The autoscaler moves the replicas between 1 and hpaMax: only the surge bound
	// holds, over the largest size.
	h.m.guardDeployment(h.ns, h.deployment.name, hpaMax+h.surge, -1)
	body := fmt.Sprintf(`{"apiVersion":"sim.podwarden.io/v1","kind":"Load","metadata":{"name":%q},"spec":{"selector":"app=%s","cpu":"%dm"}}`,
		hpaLoadName, h.deployment.name, h.load)
	if err := retry(ctx, "create load", func(ctx context.Context) error {
		err := h.cs.CoreV1().RESTClient().Post().AbsPath(h.loadPath()).SetHeader("Content-Type", "application/json").Body([]byte(body)).Do(ctx).Error()
		return ignoreExists(err)
	}); err != nil {
		return err
	}
	obj := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: h.deployment.name, Namespace: h.ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: h.deployment.name},
			MinReplicas:    ptr.To[int32](1),
			MaxReplicas:    hpaMax,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](hpaTarget)}}}},
			// Fast both ways (the defaults wait 15 s between scale-ups and 5 min
			// before a scale-down): a trial is a minute.
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0),
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: hpaMax, PeriodSeconds: 1}}},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](2),
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: hpaMax, PeriodSeconds: 1}}},
			},
		},
	}
	uid, err := create(ctx, "hpa "+h.deployment.name, func(ctx context.Context) (metav1.Object, error) {
		return h.cs.AutoscalingV2().HorizontalPodAutoscalers(h.ns).Create(ctx, obj, metav1.CreateOptions{})
	}, h.getHPA)
	h.hpaUID = uid
	return err
}

func (h *hpa) Prepare(context.Context, string) error { return nil }

func (h *hpa) Do(ctx context.Context, step string) error {
	switch step {
	case "create":
		return h.Create(ctx)
	case "load":
		old := h.load
		for h.load == old {
			h.load = hpaLoads[h.r.IntN(len(hpaLoads))]
		}
		patch := fmt.Sprintf(`{"spec":{"cpu":"%dm"}}`, h.load)
		return retry(ctx, "patch load", func(ctx context.Context) error {
			return h.cs.CoreV1().RESTClient().Patch(types.MergePatchType).AbsPath(h.loadPath(), hpaLoadName).Body([]byte(patch)).Do(ctx).Error()
		})
	}
	h.hdel = deletion{policy: policyOf(step), deleted: true}
	return remove(ctx, "hpa "+h.deployment.name, h.hdel.policy, func(ctx context.Context, opts metav1.DeleteOptions) error {
		return h.cs.AutoscalingV2().HorizontalPodAutoscalers(h.ns).Delete(ctx, h.deployment.name, opts)
	})
}

func (h *hpa) Converged(ctx context.Context) (string, error) {
	if h.hdel.deleted {
		msg, err := deleteConverged(ctx, h.hdel, h.hpaUID, h.getHPA, func(context.Context) ([]metav1.Object, error) { return nil, nil })
		if msg != "" || err != nil {
			return msg, err
		}
		// Nothing scales the Deployment any more: it stays rolled out at the count
		// it has (whatever the autoscaler last set).
		dep, err := h.cs.AppsV1().Deployments(h.ns).Get(ctx, h.deployment.name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		h.replicas = ptr.Deref(dep.Spec.Replicas, 1)
		return h.deployment.Converged(ctx)
	}
	o, err := h.cs.AutoscalingV2().HorizontalPodAutoscalers(h.ns).Get(ctx, h.deployment.name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	want := h.expected()
	if o.Status.DesiredReplicas != want || o.Status.CurrentReplicas != want {
		return fmt.Sprintf("autoscaler: current %d desired %d replicas, want %d for a load of %dm", o.Status.CurrentReplicas, o.Status.DesiredReplicas, want, h.load), nil
	}
	h.replicas = want
	return h.deployment.Converged(ctx)
}

func (h *hpa) Alive() []object {
	out := h.deployment.Alive()
	if !h.hdel.deleted && h.hpaUID != "" {
		out = append(out, object{kind: "HorizontalPodAutoscaler", namespace: h.ns, name: h.deployment.name, uid: h.hpaUID, get: h.getHPA})
	}
	return out
}

func (h *hpa) Cleanup(ctx context.Context) {
	_ = notFoundOK(h.cs.AutoscalingV2().HorizontalPodAutoscalers(h.ns).Delete(ctx, h.deployment.name, metav1.DeleteOptions{}))
	_ = notFoundOK(h.cs.CoreV1().RESTClient().Delete().AbsPath(h.loadPath(), hpaLoadName).Do(ctx).Error())
	h.deployment.Cleanup(ctx)
}
