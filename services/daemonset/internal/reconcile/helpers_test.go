package reconcile

import (
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func node(name string, labels map[string]string, taints ...*corev1.Taint) *nodev1.Node {
	return &nodev1.Node{Metadata: &corev1.ObjectMeta{Name: name, Labels: labels}, Spec: &nodev1.NodeSpec{Taints: taints}}
}

func taint(key, value, effect string) *corev1.Taint {
	return &corev1.Taint{Key: key, Value: value, Effect: effect}
}

type dsOpt func(*daemonsetv1.DaemonSet)

func daemonSet(opts ...dsOpt) *daemonsetv1.DaemonSet {
	ds := &daemonsetv1.DaemonSet{
		Metadata: &corev1.ObjectMeta{Name: "agent", Namespace: "default", Uid: "ds-uid", Generation: 1},
		Spec: &daemonsetv1.DaemonSetSpec{
			Selector: &corev1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &corev1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "agent:1"}}},
			},
			UpdateStrategy: &daemonsetv1.DaemonSetUpdateStrategy{Type: RollingUpdate, RollingUpdate: &daemonsetv1.RollingUpdateDaemonSet{
				MaxUnavailable: structpb.NewNumberValue(1), MaxSurge: structpb.NewNumberValue(0)}},
		},
	}
	for _, o := range opts {
		o(ds)
	}
	return ds
}

func withTolerations(ts ...*corev1.Toleration) dsOpt {
	return func(ds *daemonsetv1.DaemonSet) { ds.Spec.Template.Spec.Tolerations = ts }
}

func withNodeSelector(sel map[string]string) dsOpt {
	return func(ds *daemonsetv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = sel }
}

func withStrategy(maxUnavailable, maxSurge *structpb.Value) dsOpt {
	return func(ds *daemonsetv1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate = &daemonsetv1.RollingUpdateDaemonSet{MaxUnavailable: maxUnavailable, MaxSurge: maxSurge}
	}
}

// pod is a daemon pod of agent on node with a hash; ready sets Ready=True since t0-1m.
func pod(name, nodeName, hash string, ready bool) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "agent", HashLabel: hash},
			CreationTimestamp: timestamppb.New(t0.Add(-time.Hour))},
		Spec:   &corev1.PodSpec{NodeName: nodeName},
		Status: &corev1.PodStatus{Phase: "Running"},
	}
	status := "False"
	if ready {
		status = "True"
	}
	p.Status.Conditions = []*corev1.Condition{{Type: "Ready", Status: status, LastTransitionTime: timestamppb.New(t0.Add(-time.Minute))}}
	return p
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.GetMetadata().GetName())
	}
	return out
}
