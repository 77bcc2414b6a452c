// Package reconcile holds the daemonset controller's decisions as pure functions:
// which nodes should run a daemon pod (NodeShouldRunDaemonPod), the pods to create
// and delete (manage, rolling update), the status, and the ControllerRevision
// history. Nothing here reads or writes a store.
package reconcile

import (
	"strconv"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Taint effects, toleration operators and the node taints Kubernetes maintains.
const (
	EffectNoSchedule       = "NoSchedule"
	EffectPreferNoSchedule = "PreferNoSchedule"
	EffectNoExecute        = "NoExecute"

	OpEqual  = "Equal"
	OpExists = "Exists"

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

// ToleratesTaint is Kubernetes' Toleration.ToleratesTaint.
func ToleratesTaint(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.GetEffect() != "" && t.GetEffect() != taint.GetEffect() {
		return false
	}
	if t.GetKey() != "" && t.GetKey() != taint.GetKey() {
		return false
	}
	switch t.GetOperator() {
	case "", OpEqual:
		return t.GetValue() == taint.GetValue()
	case OpExists:
		return true
	}
	return false
}

// hasUntoleratedTaint is v1helper.FindMatchingUntoleratedTaint restricted to effects.
func hasUntoleratedTaint(taints []*corev1.Taint, tolerations []*corev1.Toleration, effects ...string) bool {
	for _, taint := range taints {
		relevant := false
		for _, e := range effects {
			relevant = relevant || taint.GetEffect() == e
		}
		if !relevant {
			continue
		}
		tolerated := false
		for _, t := range tolerations {
			if ToleratesTaint(t, taint) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return true
		}
	}
	return false
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
	if !matchesNodeSelectorAndAffinity(spec, node) {
		return false, false
	}
	taints := node.GetSpec().GetTaints()
	if hasUntoleratedTaint(taints, spec.GetTolerations(), EffectNoSchedule, EffectNoExecute) {
		return false, !hasUntoleratedTaint(taints, spec.GetTolerations(), EffectNoExecute)
	}
	return true, true
}

// matchesNodeSelectorAndAffinity is nodeaffinity.GetRequiredNodeAffinity(pod).Match.
func matchesNodeSelectorAndAffinity(spec *corev1.PodSpec, node *nodev1.Node) bool {
	nodeLabels := node.GetMetadata().GetLabels()
	for k, v := range spec.GetNodeSelector() {
		if got, ok := nodeLabels[k]; !ok || got != v {
			return false
		}
	}
	required := spec.GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution()
	if required == nil {
		return true
	}
	for _, t := range required.GetNodeSelectorTerms() {
		if matchTerm(t, node) {
			return true
		}
	}
	return false
}

// matchTerm: all requirements of a term match; an empty term matches nothing.
func matchTerm(t *corev1.NodeSelectorTerm, node *nodev1.Node) bool {
	if len(t.GetMatchExpressions()) == 0 && len(t.GetMatchFields()) == 0 {
		return false
	}
	nodeLabels := node.GetMetadata().GetLabels()
	for _, r := range t.GetMatchExpressions() {
		v, ok := nodeLabels[r.GetKey()]
		if !matchRequirement(r, v, ok) {
			return false
		}
	}
	for _, r := range t.GetMatchFields() {
		if r.GetKey() != "metadata.name" || (r.GetOperator() != "In" && r.GetOperator() != "NotIn") {
			return false
		}
		if !matchRequirement(r, node.GetMetadata().GetName(), true) {
			return false
		}
	}
	return true
}

func matchRequirement(r *corev1.NodeSelectorRequirement, value string, present bool) bool {
	in := func() bool {
		for _, v := range r.GetValues() {
			if v == value {
				return true
			}
		}
		return false
	}
	switch r.GetOperator() {
	case "In":
		return present && in()
	case "NotIn":
		return !present || !in()
	case "Exists":
		return present
	case "DoesNotExist":
		return !present
	case "Gt", "Lt":
		if !present || len(r.GetValues()) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(value, 10, 64)
		want, err2 := strconv.ParseInt(r.GetValues()[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.GetOperator() == "Gt" {
			return have > want
		}
		return have < want
	}
	return false
}
