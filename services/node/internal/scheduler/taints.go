package scheduler

import (
	"github.com/podwarden/podwarden/shared/scheduling"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Taint effects and operators, as Kubernetes spells them (shared/scheduling's).
const (
	EffectNoSchedule       = scheduling.EffectNoSchedule
	EffectPreferNoSchedule = scheduling.EffectPreferNoSchedule
	EffectNoExecute        = scheduling.EffectNoExecute

	OpEqual  = scheduling.OpEqual
	OpExists = scheduling.OpExists
)

// Taints the node lifecycle controller maintains (TaintNodesByCondition).
const (
	TaintNodeUnschedulable = "node.kubernetes.io/unschedulable"
	TaintNodeNotReady      = "node.kubernetes.io/not-ready"
	TaintNodeUnreachable   = "node.kubernetes.io/unreachable"
)

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
		if taint.GetEffect() == EffectPreferNoSchedule && !scheduling.Tolerates(prefer, taint) {
			n++
		}
	}
	return n
}
