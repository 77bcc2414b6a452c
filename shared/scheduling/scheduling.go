// Package scheduling holds Kubernetes' scheduling predicates that more than one
// controller needs (component-helpers' ToleratesTaint, FindMatchingUntoleratedTaint,
// RequiredNodeAffinity.Match): the node service's scheduler and taint manager and the
// DaemonSet controller's should-run decision decide with the same code.
package scheduling

import (
	"strconv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Taint effects and toleration operators, as Kubernetes spells them.
const (
	EffectNoSchedule       = "NoSchedule"
	EffectPreferNoSchedule = "PreferNoSchedule"
	EffectNoExecute        = "NoExecute"

	OpEqual  = "Equal"
	OpExists = "Exists"
)

// ToleratesTaint is Kubernetes' Toleration.ToleratesTaint: an empty effect
// matches every effect, an empty key (with Exists) every key; Equal (or an
// empty operator) compares values, Exists ignores them.
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
	default:
		return false
	}
}

// Tolerates reports whether any toleration tolerates taint.
func Tolerates(tolerations []*corev1.Toleration, taint *corev1.Taint) bool {
	for _, t := range tolerations {
		if ToleratesTaint(t, taint) {
			return true
		}
	}
	return false
}

// FirstUntolerated returns the first taint with one of effects that no
// toleration tolerates, or nil (Kubernetes' FindMatchingUntoleratedTaint).
func FirstUntolerated(taints []*corev1.Taint, tolerations []*corev1.Toleration, effects ...string) *corev1.Taint {
	for _, taint := range taints {
		if !hasEffect(taint.GetEffect(), effects) {
			continue
		}
		if !Tolerates(tolerations, taint) {
			return taint
		}
	}
	return nil
}

func hasEffect(e string, effects []string) bool {
	for _, x := range effects {
		if x == e {
			return true
		}
	}
	return false
}

// MatchesNodeSelectorAndAffinity is Kubernetes' RequiredNodeAffinity.Match:
// every spec.nodeSelector label must be on the node, and when required node
// affinity is set one of its terms must match.
func MatchesNodeSelectorAndAffinity(spec *corev1.PodSpec, node *nodev1.Node) bool {
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
	return MatchNodeSelectorTerms(required.GetNodeSelectorTerms(), node)
}

// MatchNodeSelectorTerms reports whether any term matches the node (the terms
// are ORed; no terms match nothing).
func MatchNodeSelectorTerms(terms []*corev1.NodeSelectorTerm, node *nodev1.Node) bool {
	for _, t := range terms {
		if MatchNodeSelectorTerm(t, node) {
			return true
		}
	}
	return false
}

// MatchNodeSelectorTerm reports whether all requirements of one term match; an
// empty term matches nothing.
func MatchNodeSelectorTerm(t *corev1.NodeSelectorTerm, node *nodev1.Node) bool {
	if t == nil || (len(t.GetMatchExpressions()) == 0 && len(t.GetMatchFields()) == 0) {
		return false
	}
	labels := node.GetMetadata().GetLabels()
	for _, r := range t.GetMatchExpressions() {
		v, ok := labels[r.GetKey()]
		if !matchRequirement(r, v, ok) {
			return false
		}
	}
	for _, r := range t.GetMatchFields() {
		// metadata.name is the only field Kubernetes supports here, with In and NotIn.
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
	switch r.GetOperator() {
	case "In":
		return present && contains(r.GetValues(), value)
	case "NotIn":
		return !present || !contains(r.GetValues(), value)
	case "Exists":
		return present
	case "DoesNotExist":
		return !present
	case "Gt", "Lt":
		if !present || len(r.GetValues()) != 1 {
			return false
		}
		have, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return false
		}
		want, err := strconv.ParseInt(r.GetValues()[0], 10, 64)
		if err != nil {
			return false
		}
		if r.GetOperator() == "Gt" {
			return have > want
		}
		return have < want
	default:
		return false
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
