package disruption

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

// Eviction's vocabulary, as Kubernetes writes it.
const (
	// CauseDisruptionBudget is the cause type of a refused eviction (policyv1.DisruptionBudgetCause).
	CauseDisruptionBudget = "DisruptionBudget"
	// MsgViolation is the message of an eviction the budget refuses.
	MsgViolation = "Cannot evict pod as it would violate the pod's disruption budget."
	// MaxDisruptedPods is how many evictions a budget can have in flight (MaxDisruptedPodSize).
	MaxDisruptedPods = 2000

	PolicyIfHealthyBudget = "IfHealthyBudget"
	PolicyAlwaysAllow     = "AlwaysAllow"

	// The condition an evicted pod gets (DisruptionTarget, reason EvictionByEvictionAPI).
	ConditionDisruptionTarget = "DisruptionTarget"
	ReasonEvictionByAPI       = "EvictionByEvictionAPI"
	MsgEvictionByAPI          = "Eviction API: evicting"
)

// DisruptionTarget is the condition an evicted pod is deleted with.
func DisruptionTarget() *corev1.Condition {
	return &corev1.Condition{Type: ConditionDisruptionTarget, Status: "True", Reason: ReasonEvictionByAPI, Message: MsgEvictionByAPI}
}

// Selects reports whether the budget selects the pod (policy/v1: no selector selects
// nothing, an empty one every pod of the namespace).
func Selects(pdb *policyv1.PodDisruptionBudget, pod *corev1.Pod) bool {
	return pdb.GetMetadata().GetNamespace() == pod.GetMetadata().GetNamespace() &&
		pdb.GetSpec().GetSelector() != nil && labels.Matches(pdb.GetSpec().GetSelector(), pod.GetMetadata().GetLabels())
}

// IgnoresBudgets is canIgnorePDB: a pod that is finished, not running yet
// (Pending) or already being deleted is evicted without asking its budget.
func IgnoresBudgets(pod *corev1.Pod) bool {
	ph := pod.GetStatus().GetPhase()
	return ph == "Succeeded" || ph == "Failed" || ph == "Pending" || pod.GetMetadata().GetDeletionTimestamp() != nil
}

// Decision is what an eviction may do: the budget to write back (its status with one
// disruption fewer and the pod in disruptedPods), or nil when the pod goes without
// using the budget; Err when the eviction is refused.
type Decision struct {
	Budget *policyv1.PodDisruptionBudget
	Err    error
}

// Decide is the eviction subresource's decision for pod under the budgets that select
// it (the ones of its namespace whose selector matches): none, the pod may go; more
// than one is an error; one, the pod may go if it is unhealthy and the budget's
// policy lets unhealthy pods go, or if the budget allows a disruption
// (checkAndDecrement), which it then uses up.
func Decide(pod *corev1.Pod, budgets []*policyv1.PodDisruptionBudget, now time.Time) Decision {
	if IgnoresBudgets(pod) || len(budgets) == 0 {
		return Decision{}
	}
	if len(budgets) > 1 {
		return Decision{Err: apierr.Internal(fmt.Errorf("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))} //nolint:staticcheck // Kubernetes' words
	}
	pdb := budgets[0]
	st := pdb.GetStatus()
	if !podutil.IsPodReady(pod) {
		switch pdb.GetSpec().GetUnhealthyPodEvictionPolicy() {
		case PolicyAlwaysAllow:
			return Decision{}
		case "", PolicyIfHealthyBudget:
			if st.GetCurrentHealthy() >= st.GetDesiredHealthy() && st.GetDesiredHealthy() > 0 {
				return Decision{}
			}
		}
	}
	name := pdb.GetMetadata().GetName()
	gr := apierr.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}
	switch {
	case st.GetObservedGeneration() < pdb.GetMetadata().GetGeneration():
		return Decision{Err: apierr.TooManyRequests(MsgViolation, 10,
			apierr.Cause{Type: CauseDisruptionBudget, Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", name)})}
	case st.GetDisruptionsAllowed() < 0:
		return Decision{Err: apierr.Forbidden(gr, name, fmt.Errorf("pdb disruptions allowed is negative"))}
	case len(st.GetDisruptedPods()) > MaxDisruptedPods:
		return Decision{Err: apierr.Forbidden(gr, name, fmt.Errorf("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))}
	case st.GetDisruptionsAllowed() == 0:
		return Decision{Err: apierr.TooManyRequests(MsgViolation, 0,
			apierr.Cause{Type: CauseDisruptionBudget, Message: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently",
				name, st.GetDesiredHealthy(), st.GetCurrentHealthy())})}
	}
	out := proto.Clone(pdb).(*policyv1.PodDisruptionBudget)
	out.Status.DisruptionsAllowed = proto.Int32(st.GetDisruptionsAllowed() - 1)
	if out.Status.GetDisruptionsAllowed() == 0 {
		UpdateDisruptionAllowedCondition(out.Status, now)
	}
	if out.Status.DisruptedPods == nil {
		out.Status.DisruptedPods = map[string]*timestamppb.Timestamp{}
	}
	out.Status.DisruptedPods[pod.GetMetadata().GetName()] = timestamppb.New(now.Truncate(time.Second))
	return Decision{Budget: out}
}
