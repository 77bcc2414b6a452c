package scheduler

import (
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Taint effects and operators, as Kubernetes spells them.
const (
	EffectNoSchedule       = "NoSchedule"
	EffectPreferNoSchedule = "PreferNoSchedule"
	EffectNoExecute        = "NoExecute"

	OpEqual  = "Equal"
	OpExists = "Exists"
)

// Taints the node lifecycle controller maintains (TaintNodesByCondition).
const (
	TaintNodeUnschedulable = "node.kubernetes.io/unschedulable"
	TaintNodeNotReady      = "node.kubernetes.io/not-ready"
	TaintNodeUnreachable   = "node.kubernetes.io/unreachable"
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

// countIntolerable counts the PreferNoSchedule taints no toleration (with an
// empty or PreferNoSchedule effect) tolerates, for scoring.
func countIntolerable(taints []*corev1.Taint, tolerations []*corev1.Toleration) int {
	var prefer []*corev1.Toleration
	for _, t := range tolerations {
		if t.GetEffect() == "" || t.GetEffect() == EffectPreferNoSchedule {
			prefer = append(prefer, t)
		}
	}
	n := 0
	for _, taint := range taints {
		if taint.GetEffect() == EffectPreferNoSchedule && !Tolerates(prefer, taint) {
			n++
		}
	}
	return n
}
