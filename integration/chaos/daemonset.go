package chaos

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// daemonSet: one pod per eligible node while nodes come and go.
type daemonSet struct {
	*env
	name  string
	uid   types.UID
	image int
	del   deletion
	// nodes this workload added and not removed (uid by name).
	nodes map[string]types.UID
	// seq numbers added nodes (names are unique within the run: namespace + seq).
	seq int
}

func newDaemonSet(e *env) *daemonSet {
	return &daemonSet{env: e, name: "agent", image: 25, nodes: map[string]types.UID{}}
}

func (d *daemonSet) Kind() string { return "daemonset" }
func (d *daemonSet) Name() string { return d.name }
func (d *daemonSet) Steps() []string {
	return append([]string{"roll", "add-node", "remove-node"}, deleteSteps...)
}

func (d *daemonSet) get(ctx context.Context) (metav1.Object, error) {
	return d.cs.AppsV1().DaemonSets(d.ns).Get(ctx, d.name, metav1.GetOptions{})
}

func (d *daemonSet) imageName() string { return fmt.Sprintf("fluentd:v1.%d", d.image) }

func (d *daemonSet) Create(ctx context.Context) error {
	labels := map[string]string{"app": d.name}
	obj := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: d.ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: d.imageName()}}},
			},
		},
	}
	uid, err := create(ctx, "daemonset "+d.name, func(ctx context.Context) (metav1.Object, error) {
		return d.cs.AppsV1().DaemonSets(d.ns).Create(ctx, obj, metav1.CreateOptions{})
	}, d.get)
	d.uid = uid
	return err
}

func (d *daemonSet) addNode(ctx context.Context) error {
	d.seq++
	name := fmt.Sprintf("%s-node-%d", d.ns, d.seq)
	// The body as kubectl sends a manifest: client-go's typed Create would add
	// "status":{"daemonEndpoints":...}, which the gateway's strict decoding rejects.
	body := fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Node","metadata":{"name":%q}}`, name)
	uid, err := create(ctx, "node "+name, func(ctx context.Context) (metav1.Object, error) {
		node := &corev1.Node{}
		err := d.cs.CoreV1().RESTClient().Post().Resource("nodes").SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Into(node)
		return node, err
	}, func(ctx context.Context) (metav1.Object, error) {
		return d.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	})
	if err == nil {
		d.nodes[name] = uid
	}
	return err
}

func (d *daemonSet) Prepare(ctx context.Context, step string) error {
	if step == "remove-node" && len(d.nodes) == 0 {
		return d.addNode(ctx)
	}
	return nil
}

func (d *daemonSet) Do(ctx context.Context, step string) error {
	switch step {
	case "create":
		return d.Create(ctx)
	case "add-node":
		return d.addNode(ctx)
	case "remove-node":
		for name := range d.nodes {
			delete(d.nodes, name)
			return remove(ctx, "node "+name, metav1.DeletePropagationBackground, func(ctx context.Context, opts metav1.DeleteOptions) error {
				return d.cs.CoreV1().Nodes().Delete(ctx, name, opts)
			})
		}
		return nil
	case "roll":
		d.image++
		return update(ctx, "daemonset "+d.name, func(ctx context.Context) (*appsv1.DaemonSet, error) {
			return d.cs.AppsV1().DaemonSets(d.ns).Get(ctx, d.name, metav1.GetOptions{})
		}, func(o *appsv1.DaemonSet) { o.Spec.Template.Spec.Containers[0].Image = d.imageName() },
			func(ctx context.Context, o *appsv1.DaemonSet) error {
				_, err := d.cs.AppsV1().DaemonSets(d.ns).Update(ctx, o, metav1.UpdateOptions{})
				return err
			})
	default:
		d.del = deletion{policy: policyOf(step), deleted: true}
		return remove(ctx, "daemonset "+d.name, d.del.policy, func(ctx context.Context, opts metav1.DeleteOptions) error {
			return d.cs.AppsV1().DaemonSets(d.ns).Delete(ctx, d.name, opts)
		})
	}
}

// tolerated are the taints a DaemonSet's pods tolerate by default (the daemon
// controller adds these tolerations): nodes with only these are eligible.
func tolerated(t corev1.Taint) bool {
	return t.Effect == corev1.TaintEffectPreferNoSchedule || strings.HasPrefix(t.Key, "node.kubernetes.io/")
}

func (d *daemonSet) eligibleNodes(ctx context.Context) (map[string]bool, error) {
	nodes, err := d.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range nodes.Items {
		ok := n.DeletionTimestamp == nil
		for _, t := range n.Spec.Taints {
			ok = ok && tolerated(t)
		}
		out[n.Name] = ok
	}
	return out, nil
}

func (d *daemonSet) Converged(ctx context.Context) (string, error) {
	if d.del.deleted {
		return deleteConverged(ctx, d.del, d.uid, d.get, func(ctx context.Context) ([]metav1.Object, error) {
			return podObjects(ctx, d.env, d.name)
		})
	}
	ds, err := d.cs.AppsV1().DaemonSets(d.ns).Get(ctx, d.name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if ds.Spec.Template.Spec.Containers[0].Image != d.imageName() {
		return "spec image " + ds.Spec.Template.Spec.Containers[0].Image + ", the harness set " + d.imageName(), nil
	}
	nodes, err := d.eligibleNodes(ctx)
	if err != nil {
		return "", err
	}
	want := int32(0)
	for _, ok := range nodes {
		if ok {
			want++
		}
	}
	st := ds.Status
	if st.ObservedGeneration < ds.Generation || st.DesiredNumberScheduled != want || st.CurrentNumberScheduled != want ||
		st.NumberReady != want || st.UpdatedNumberScheduled != want || st.NumberMisscheduled != 0 {
		return fmt.Sprintf("status desired %d current %d ready %d updated %d misscheduled %d for %d eligible nodes (observed %d of %d)",
			st.DesiredNumberScheduled, st.CurrentNumberScheduled, st.NumberReady, st.UpdatedNumberScheduled, st.NumberMisscheduled, want, st.ObservedGeneration, ds.Generation), nil
	}
	pods, err := podsOf(ctx, d.env, d.name)
	if err != nil {
		return "", err
	}
	perNode := map[string]int{}
	for i := range pods {
		p := &pods[i]
		node := p.Spec.NodeName
		switch {
		case controllerUID(p) != ds.UID:
			return "pod " + p.Name + " not owned by the DaemonSet", nil
		case !nodes[node]:
			return fmt.Sprintf("pod %s on node %q, not eligible", p.Name, node), nil
		case !live(p) || !podReady(p):
			return "pod " + p.Name + " not ready", nil
		case p.Spec.Containers[0].Image != d.imageName():
			return "pod " + p.Name + " runs " + p.Spec.Containers[0].Image, nil
		}
		perNode[node]++
	}
	for node, ok := range nodes {
		if ok && perNode[node] != 1 {
			return fmt.Sprintf("%d pods on node %s", perNode[node], node), nil
		}
	}
	return "", nil
}

func (d *daemonSet) Alive() []object {
	var out []object
	if !d.del.deleted && d.uid != "" {
		out = append(out, object{kind: "DaemonSet", namespace: d.ns, name: d.name, uid: d.uid, get: d.get})
	}
	for name, uid := range d.nodes {
		out = append(out, object{kind: "Node", name: name, uid: uid, get: func(ctx context.Context) (metav1.Object, error) {
			return d.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		}})
	}
	return out
}

func (d *daemonSet) Cleanup(ctx context.Context) {
	_ = notFoundOK(d.cs.AppsV1().DaemonSets(d.ns).Delete(ctx, d.name, metav1.DeleteOptions{}))
	if d.del.policy == metav1.DeletePropagationOrphan {
		deletePods(ctx, d.env, d.name)
	}
	for name := range d.nodes {
		_ = d.cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		delete(d.nodes, name)
	}
}
