package scheduler

import (
	"google.golang.org/protobuf/types/known/structpb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

type nodeOpts struct {
	labels        map[string]string
	taints        []*corev1.Taint
	unschedulable bool
	ready         string // "" = True
	cpu, memory   string
	pods          float64
}

func testNode(name string, o nodeOpts) *nodev1.Node {
	if o.cpu == "" {
		o.cpu = "4"
	}
	if o.memory == "" {
		o.memory = "16Gi"
	}
	if o.pods == 0 {
		o.pods = 110
	}
	if o.ready == "" {
		o.ready = "True"
	}
	return &nodev1.Node{
		Metadata: &corev1.ObjectMeta{Name: name, Labels: o.labels},
		Spec:     &nodev1.NodeSpec{Taints: o.taints, Unschedulable: o.unschedulable},
		Status: &nodev1.NodeStatus{
			Allocatable: map[string]*structpb.Value{
				"cpu": structpb.NewStringValue(o.cpu), "memory": structpb.NewStringValue(o.memory), "pods": structpb.NewNumberValue(o.pods),
			},
			Conditions: []*corev1.Condition{{Type: "Ready", Status: o.ready}},
		},
	}
}

type podOpts struct {
	nodeName     string
	nodeSelector map[string]string
	tolerations  []*corev1.Toleration
	affinity     *corev1.Affinity
	cpu, memory  string
	owner        string
	phase        string
}

func testPod(name string, o podOpts) *corev1.Pod {
	req := map[string]*structpb.Value{}
	if o.cpu != "" {
		req["cpu"] = structpb.NewStringValue(o.cpu)
	}
	if o.memory != "" {
		req["memory"] = structpb.NewStringValue(o.memory)
	}
	meta := &corev1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name}
	if o.owner != "" {
		t := true
		meta.OwnerReferences = []*corev1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", Uid: o.owner, Controller: &t}}
	}
	return &corev1.Pod{
		Metadata: meta,
		Spec: &corev1.PodSpec{
			NodeName:     o.nodeName,
			NodeSelector: o.nodeSelector,
			Tolerations:  o.tolerations,
			Affinity:     o.affinity,
			Containers:   []*corev1.Container{{Name: "c", Image: "nginx", Resources: &corev1.ResourceRequirements{Requests: req}}},
		},
		Status: &corev1.PodStatus{Phase: o.phase},
	}
}

func controlPlaneTaint() *corev1.Taint {
	return &corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: EffectNoSchedule}
}

func fleet() []*nodev1.Node {
	return []*nodev1.Node{
		testNode("control-plane", nodeOpts{taints: []*corev1.Taint{controlPlaneTaint()}}),
		testNode("node-1", nodeOpts{labels: map[string]string{"disk": "ssd"}}),
		testNode("node-2", nodeOpts{labels: map[string]string{"disk": "hdd"}}),
	}
}

func affinityIn(key string, values ...string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
			MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: key, Operator: "In", Values: values}},
		}}},
	}}
}
