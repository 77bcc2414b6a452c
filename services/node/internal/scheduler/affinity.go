package scheduler

import (
	"strconv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// matchesNodeSelectorAndAffinity is Kubernetes' RequiredNodeAffinity.Match:
// every spec.nodeSelector label must be on the node, and when required node
// affinity is set one of its terms must match.
func matchesNodeSelectorAndAffinity(pod *corev1.Pod, node *nodev1.Node) bool {
	nodeLabels := node.GetMetadata().GetLabels()
	for k, v := range pod.GetSpec().GetNodeSelector() {
		if got, ok := nodeLabels[k]; !ok || got != v {
			return false
		}
	}
	required := pod.GetSpec().GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution()
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

// preferredAffinityScore sums the weights of the preferred terms the node matches.
func preferredAffinityScore(pod *corev1.Pod, node *nodev1.Node) int64 {
	var score int64
	for _, p := range pod.GetSpec().GetAffinity().GetNodeAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution() {
		if p.GetWeight() != 0 && MatchNodeSelectorTerm(p.GetPreference(), node) {
			score += int64(p.GetWeight())
		}
	}
	return score
}
