// Package reconcile holds the daemonset controller's decisions as pure functions:
// which nodes should run a daemon pod (NodeShouldRunDaemonPod), the pods to create
// and delete (manage, rolling update), the status, and the ControllerRevision
// history. Nothing here reads or writes a store.
package reconcile

import (
	"github.com/podwarden/podwarden/shared/scheduling"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Taint effects, toleration operators and the node taints Kubernetes maintains.
const (
	EffectNoSchedule       = scheduling.EffectNoSchedule
	EffectPreferNoSchedule = scheduling.EffectPreferNoSchedule
	EffectNoExecute        = scheduling.EffectNoExecute

	OpEqual  = scheduling.OpEqual
	OpExists = scheduling.OpExists

	TaintNodeNotReady           = "node.kubernetes.io/not-ready"
	TaintNodeUnreachable        = "node.kubernetes.io/unreachable"
	TaintNodeDiskPressure       = "node.kubernetes.io/disk-pressure"
	TaintNodeMemoryPressure     = "node.kubernetes.io/memory-pressure"
	TaintNodePIDPressure        = "node.kubernetes.io/pid-pressure"
	TaintNodeUnschedulable      = "node.kubernetes.io/unschedulable"
	TaintNodeNetworkUnavailable = "node.kubernetes.io/network-unavailable"
)

// AddDaemonPodTolerations is Kubernetes' util.AddOrUpdateDaemonPodTolerations: a
// daemon pod survives not-ready/unreachable nodes (NoExecute, forever) and is
// scheduled despite pressure and unschedulable (NoSchedule); with hostNetwork also
// despite network-unavailable. A toleration of the same key, operator, value and
// effect is replaced.
func AddDaemonPodTolerations(spec *corev1.PodSpec) {
	add := func(key, effect string) {
		addOrUpdateToleration(spec, &corev1.Toleration{Key: key, Operator: OpExists, Effect: effect})
	}
	add(TaintNodeNotReady, EffectNoExecute)
	add(TaintNodeUnreachable, EffectNoExecute)
	add(TaintNodeDiskPressure, EffectNoSchedule)
	add(TaintNodeMemoryPressure, EffectNoSchedule)
	add(TaintNodePIDPressure, EffectNoSchedule)
	add(TaintNodeUnschedulable, EffectNoSchedule)
	if spec.GetHostNetwork() {
		add(TaintNodeNetworkUnavailable, EffectNoSchedule)
	}
}

// addOrUpdateToleration is v1helper.AddOrUpdateTolerationInPodSpec.
func addOrUpdateToleration(spec *corev1.PodSpec, t *corev1.Toleration) {
	for i, old := range spec.Tolerations {
		if old.GetKey() == t.GetKey() && old.GetOperator() == t.GetOperator() &&
			old.GetValue() == t.GetValue() && old.GetEffect() == t.GetEffect() {
			spec.Tolerations[i] = t
			return
		}
	}
	spec.Tolerations = append(spec.Tolerations, t)
}

// daemonPodSpec is the spec a daemon pod of ds gets (NewPod): the template's
// spec with the daemon tolerations.
func daemonPodSpec(ds *daemonsetv1.DaemonSet) *corev1.PodSpec {
	spec := proto.Clone(ds.GetSpec().GetTemplate().GetSpec()).(*corev1.PodSpec)
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	AddDaemonPodTolerations(spec)
	return spec
}

// ShouldRun is Kubernetes' NodeShouldRunDaemonPod: shouldRun when a daemon pod
// should be created on node (node name, nodeSelector, required node affinity and
// NoSchedule/NoExecute taints all allow it); shouldContinueRunning when an existing
// one may stay (only NoExecute taints count then).
func ShouldRun(node *nodev1.Node, ds *daemonsetv1.DaemonSet) (shouldRun, shouldContinueRunning bool) {
	return shouldRunSpec(node, daemonPodSpec(ds))
}

func shouldRunSpec(node *nodev1.Node, spec *corev1.PodSpec) (shouldRun, shouldContinueRunning bool) {
	name := node.GetMetadata().GetName()
	if n := spec.GetNodeName(); n != "" && n != name {
		return false, false
	}
	if !scheduling.MatchesNodeSelectorAndAffinity(spec, node) {
		return false, false
	}
	taints := node.GetSpec().GetTaints()
	if scheduling.FirstUntolerated(taints, spec.GetTolerations(), EffectNoSchedule, EffectNoExecute) != nil {
		return false, scheduling.FirstUntolerated(taints, spec.GetTolerations(), EffectNoExecute) == nil
	}
	return true, true
}
