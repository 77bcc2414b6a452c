package chaos

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// strategies are the rolling-update bounds a Deployment gets (maxSurge, maxUnavailable).
var strategies = [][2]int{{1, 0}, {0, 1}, {1, 1}, {2, 1}}

type deployment struct {
	*env
	name     string
	uid      types.UID
	replicas int32
	surge    int
	unavail  int
	image    int
	del      deletion
	// cpu, when set, is what each pod requests (the autoscaled Deployment).
	cpu string
}

func newDeployment(e *env) *deployment {
	st := strategies[e.r.IntN(len(strategies))]
	return &deployment{env: e, name: "web", replicas: int32(2 + e.r.IntN(4)), surge: st[0], unavail: st[1], image: 20}
}

func (d *deployment) Kind() string { return "deployment" }
func (d *deployment) Name() string { return d.name }
func (d *deployment) Steps() []string {
	return append([]string{"scale", "roll", "undo"}, deleteSteps...)
}

func (d *deployment) get(ctx context.Context) (metav1.Object, error) {
	return d.cs.AppsV1().Deployments(d.ns).Get(ctx, d.name, metav1.GetOptions{})
}

func (d *deployment) Create(ctx context.Context) error {
	labels := map[string]string{"app": d.name}
	obj := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: d.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(d.replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromInt(d.surge)), MaxUnavailable: ptr.To(intstr.FromInt(d.unavail))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: d.imageName()}}},
			},
		},
	}
	if d.cpu != "" {
		obj.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(d.cpu)}
	}
	d.m.guardDeployment(d.ns, d.name, int(d.replicas)+d.surge, -1)
	uid, err := create(ctx, "deployment "+d.name, func(ctx context.Context) (metav1.Object, error) {
		return d.cs.AppsV1().Deployments(d.ns).Create(ctx, obj, metav1.CreateOptions{})
	}, d.get)
	d.uid = uid
	return err
}

func (d *deployment) imageName() string { return fmt.Sprintf("nginx:1.%d", d.image) }

func (d *deployment) setImage(ctx context.Context) error {
	return update(ctx, "deployment "+d.name, func(ctx context.Context) (*appsv1.Deployment, error) {
		return d.cs.AppsV1().Deployments(d.ns).Get(ctx, d.name, metav1.GetOptions{})
	}, func(o *appsv1.Deployment) { o.Spec.Template.Spec.Containers[0].Image = d.imageName() },
		func(ctx context.Context, o *appsv1.Deployment) error {
			_, err := d.cs.AppsV1().Deployments(d.ns).Update(ctx, o, metav1.UpdateOptions{})
			return err
		})
}

func (d *deployment) Prepare(ctx context.Context, step string) error {
	if step == "undo" {
		d.image++
		return d.setImage(ctx)
	}
	return nil
}

func (d *deployment) Do(ctx context.Context, step string) error {
	switch step {
	case "create":
		return d.Create(ctx)
	case "scale":
		old := d.replicas
		for d.replicas == old {
			d.replicas = int32(1 + d.r.IntN(6))
		}
		// Scaling is not a roll: only the surge bound holds, over the larger size.
		d.m.guardDeployment(d.ns, d.name, int(max(old, d.replicas))+d.surge, -1)
		return update(ctx, "deployment "+d.name, func(ctx context.Context) (*appsv1.Deployment, error) {
			return d.cs.AppsV1().Deployments(d.ns).Get(ctx, d.name, metav1.GetOptions{})
		}, func(o *appsv1.Deployment) { o.Spec.Replicas = ptr.To(d.replicas) },
			func(ctx context.Context, o *appsv1.Deployment) error {
				_, err := d.cs.AppsV1().Deployments(d.ns).Update(ctx, o, metav1.UpdateOptions{})
				return err
			})
	case "roll":
		d.m.guardDeployment(d.ns, d.name, int(d.replicas)+d.surge, int(d.replicas)-d.unavail)
		d.image++
		return d.setImage(ctx)
	case "undo":
		d.m.guardDeployment(d.ns, d.name, int(d.replicas)+d.surge, int(d.replicas)-d.unavail)
		d.image--
		return d.undo(ctx)
	default:
		d.m.unguard(d.ns, d.name)
		d.del = deletion{policy: policyOf(step), deleted: true}
		return remove(ctx, "deployment "+d.name, d.del.policy, func(ctx context.Context, opts metav1.DeleteOptions) error {
			return d.cs.AppsV1().Deployments(d.ns).Delete(ctx, d.name, opts)
		})
	}
}

// undo is what `kubectl rollout undo` does: the template of the ReplicaSet with the
// highest revision below the current one, without its pod-template-hash label.
func (d *deployment) undo(ctx context.Context) error {
	return retry(ctx, "undo deployment "+d.name, func(ctx context.Context) error {
		dep, err := d.cs.AppsV1().Deployments(d.ns).Get(ctx, d.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rss, err := d.replicaSets(ctx)
		if err != nil {
			return err
		}
		type rev struct {
			n  int
			rs *appsv1.ReplicaSet
		}
		var revs []rev
		for i := range rss {
			n, err := strconv.Atoi(rss[i].Annotations["deployment.kubernetes.io/revision"])
			if err == nil {
				revs = append(revs, rev{n, &rss[i]})
			}
		}
		if len(revs) < 2 {
			return fmt.Errorf("no previous revision among %d ReplicaSets", len(revs))
		}
		slices.SortFunc(revs, func(a, b rev) int { return b.n - a.n })
		tmpl := revs[1].rs.Spec.Template.DeepCopy()
		delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		dep.Spec.Template = *tmpl
		_, err = d.cs.AppsV1().Deployments(d.ns).Update(ctx, dep, metav1.UpdateOptions{})
		return err
	})
}

func (d *deployment) replicaSets(ctx context.Context) ([]appsv1.ReplicaSet, error) {
	list, err := d.cs.AppsV1().ReplicaSets(d.ns).List(ctx, selector(d.name))
	if err != nil {
		return nil, err
	}
	var out []appsv1.ReplicaSet
	for _, rs := range list.Items {
		if controllerUID(&rs) == d.uid {
			out = append(out, rs)
		}
	}
	return out, nil
}

func (d *deployment) Converged(ctx context.Context) (string, error) {
	if d.del.deleted {
		return deleteConverged(ctx, d.del, d.uid, d.get, func(ctx context.Context) ([]metav1.Object, error) {
			list, err := d.cs.AppsV1().ReplicaSets(d.ns).List(ctx, selector(d.name))
			if err != nil {
				return nil, err
			}
			var out []metav1.Object
			for i := range list.Items {
				out = append(out, &list.Items[i])
			}
			if d.del.policy != metav1.DeletePropagationOrphan {
				pods, err := podObjects(ctx, d.env, d.name)
				if err != nil {
					return nil, err
				}
				out = append(out, pods...)
			}
			return out, nil
		})
	}
	dep, err := d.cs.AppsV1().Deployments(d.ns).Get(ctx, d.name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	st, want := dep.Status, *dep.Spec.Replicas
	if want != d.replicas || dep.Spec.Template.Spec.Containers[0].Image != d.imageName() {
		return fmt.Sprintf("spec is replicas %d image %s, the harness set %d %s", want, dep.Spec.Template.Spec.Containers[0].Image, d.replicas, d.imageName()), nil
	}
	if st.ObservedGeneration < dep.Generation || st.Replicas != want || st.UpdatedReplicas != want || st.ReadyReplicas != want || st.AvailableReplicas != want {
		return fmt.Sprintf("status %+v (generation %d)", st, dep.Generation), nil
	}
	rss, err := d.replicaSets(ctx)
	if err != nil {
		return "", err
	}
	var active []appsv1.ReplicaSet
	for _, rs := range rss {
		if rs.Spec.Replicas == nil || *rs.Spec.Replicas > 0 {
			active = append(active, rs)
		}
	}
	if len(active) != 1 {
		return fmt.Sprintf("%d active ReplicaSets", len(active)), nil
	}
	rs := active[0]
	if rs.Spec.Template.Spec.Containers[0].Image != d.imageName() || *rs.Spec.Replicas != want {
		return fmt.Sprintf("active ReplicaSet %s has %d x %s", rs.Name, *rs.Spec.Replicas, rs.Spec.Template.Spec.Containers[0].Image), nil
	}
	pods, err := podsOf(ctx, d.env, d.name)
	if err != nil {
		return "", err
	}
	ready := int32(0)
	for i := range pods {
		p := &pods[i]
		if controllerUID(p) != rs.UID {
			return fmt.Sprintf("pod %s not of the active ReplicaSet %s", p.Name, rs.Name), nil
		}
		if live(p) && podReady(p) {
			ready++
		}
	}
	if len(pods) != int(want) || ready != want {
		return fmt.Sprintf("%d pods, %d ready, want %d", len(pods), ready, want), nil
	}
	return "", nil
}

func (d *deployment) Alive() []object {
	if d.del.deleted || d.uid == "" {
		return nil
	}
	return []object{{kind: "Deployment", namespace: d.ns, name: d.name, uid: d.uid, get: d.get}}
}

func (d *deployment) Cleanup(ctx context.Context) {
	d.m.unguard(d.ns, d.name)
	_ = notFoundOK(d.cs.AppsV1().Deployments(d.ns).Delete(ctx, d.name, metav1.DeleteOptions{}))
	if d.del.policy == metav1.DeletePropagationOrphan {
		list, err := d.cs.AppsV1().ReplicaSets(d.ns).List(ctx, selector(d.name))
		if err == nil {
			for _, rs := range list.Items {
				_ = d.cs.AppsV1().ReplicaSets(d.ns).Delete(ctx, rs.Name, metav1.DeleteOptions{})
			}
		}
	}
}
