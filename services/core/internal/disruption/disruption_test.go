package disruption

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/apierr"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func intOrString(v any) *structpb.Value {
	if s, ok := v.(string); ok {
		return structpb.NewStringValue(s)
	}
	return structpb.NewNumberValue(float64(v.(int)))
}

// budget is a PDB selecting app=web; min or max (nil: unset) are 1 or "50%".
func budget(min, max any) *policyv1.PodDisruptionBudget {
	p := &policyv1.PodDisruptionBudget{Metadata: &corev1.ObjectMeta{Name: "web-pdb", Namespace: "default", Generation: 1},
		Spec:   &policyv1.PodDisruptionBudgetSpec{Selector: &corev1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		Status: &policyv1.PodDisruptionBudgetStatus{}}
	if min != nil {
		p.Spec.MinAvailable = intOrString(min)
	}
	if max != nil {
		p.Spec.MaxUnavailable = intOrString(max)
	}
	return p
}

// pod is a pod of app=web controlled by owner ("" for none), ready or not.
func pod(name, owner string, ready bool) *corev1.Pod {
	status := "False"
	if ready {
		status = "True"
	}
	p := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Status: &corev1.PodStatus{Phase: "Running", Conditions: []*corev1.Condition{{Type: "Ready", Status: status}}}}
	if owner != "" {
		p.Metadata.OwnerReferences = []*corev1.OwnerReference{{Kind: "ReplicaSet", Name: owner, Uid: owner + "-uid", Controller: proto.Bool(true)}}
	}
	return p
}

func deleting(p *corev1.Pod) *corev1.Pod {
	p.Metadata.DeletionTimestamp = timestamppb.New(t0)
	return p
}

func TestCompute(t *testing.T) {
	three := []*corev1.Pod{pod("a", "rs1", true), pod("b", "rs1", true), pod("c", "rs1", true)}
	scale := func(n int32) map[string]Scale { return map[string]Scale{"rs1-uid": {UID: "deploy-uid", Replicas: n}} }
	evicted := budget(2, nil)
	evicted.Status.DisruptedPods = map[string]*timestamppb.Timestamp{"a": timestamppb.New(t0.Add(-time.Minute))}
	expired := budget(2, nil)
	expired.Status.DisruptedPods = map[string]*timestamppb.Timestamp{"a": timestamppb.New(t0.Add(-3 * time.Minute))}
	tests := map[string]struct {
		pdb    *policyv1.PodDisruptionBudget
		pods   []*corev1.Pod
		scales map[string]Scale

		current, desired, expected, allowed int32
		reason                              string
		disrupted                           []string
		recheck                             time.Duration
	}{
		"minAvailable 2 of 3 ready: one disruption": {pdb: budget(2, nil), pods: three,
			current: 3, desired: 2, expected: 3, allowed: 1, reason: ReasonSufficientPods},
		"minAvailable 3 of 3: none": {pdb: budget(3, nil), pods: three,
			current: 3, desired: 3, expected: 3, allowed: 0, reason: ReasonInsufficientPods},
		"an unready pod does not count": {pdb: budget(2, nil), pods: []*corev1.Pod{pod("a", "rs1", true), pod("b", "rs1", false), pod("c", "rs1", true)},
			current: 2, desired: 2, expected: 3, allowed: 0, reason: ReasonInsufficientPods},
		"a pod being deleted does not count": {pdb: budget(2, nil), pods: []*corev1.Pod{deleting(pod("a", "rs1", true)), pod("b", "rs1", true), pod("c", "rs1", true)},
			current: 2, desired: 2, expected: 3, allowed: 0, reason: ReasonInsufficientPods},
		"maxUnavailable 1 of a scale of 3": {pdb: budget(nil, 1), pods: three, scales: scale(3),
			current: 3, desired: 2, expected: 3, allowed: 1, reason: ReasonSufficientPods},
		"maxUnavailable counts the scale, not the pods (one missing)": {pdb: budget(nil, 1), pods: three[:2], scales: scale(3),
			current: 2, desired: 2, expected: 3, allowed: 0, reason: ReasonInsufficientPods},
		"minAvailable 50% of a scale of 4 rounds up": {pdb: budget("50%", nil), pods: append(three, pod("d", "rs1", true)), scales: scale(4),
			current: 4, desired: 2, expected: 4, allowed: 2, reason: ReasonSufficientPods},
		"maxUnavailable 50% of 3 rounds up": {pdb: budget(nil, "50%"), pods: three, scales: scale(3),
			current: 3, desired: 1, expected: 3, allowed: 2, reason: ReasonSufficientPods},
		"no pods: nothing allowed": {pdb: budget(nil, 0), current: 0, desired: 0, expected: 0, allowed: 0, reason: ReasonInsufficientPods},
		"an evicted pod is not counted for two minutes": {pdb: evicted, pods: three,
			current: 2, desired: 2, expected: 3, allowed: 0, reason: ReasonInsufficientPods, disrupted: []string{"a"}, recheck: time.Minute},
		"an evicted pod not deleted after two minutes counts again": {pdb: expired, pods: three,
			current: 3, desired: 2, expected: 3, allowed: 1, reason: ReasonSufficientPods},
		"a percentage with a pod of no known controller: SyncFailed": {pdb: budget("50%", nil), pods: three,
			allowed: 0, reason: ReasonSyncFailed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := Compute(Input{PDB: tc.pdb, Pods: tc.pods, Scales: tc.scales, Now: t0})
			st := res.Status
			if st == nil {
				t.Fatal("no status written")
			}
			if tc.reason != ReasonSyncFailed && (st.GetCurrentHealthy() != tc.current || st.GetDesiredHealthy() != tc.desired || st.GetExpectedPods() != tc.expected) {
				t.Errorf("current %d desired %d expected %d, want %d %d %d", st.GetCurrentHealthy(), st.GetDesiredHealthy(), st.GetExpectedPods(), tc.current, tc.desired, tc.expected)
			}
			if st.GetDisruptionsAllowed() != tc.allowed {
				t.Errorf("disruptionsAllowed %d, want %d", st.GetDisruptionsAllowed(), tc.allowed)
			}
			if len(st.GetConditions()) != 1 || st.Conditions[0].GetType() != ConditionDisruptionAllowed || st.Conditions[0].GetReason() != tc.reason {
				t.Errorf("conditions %v, want DisruptionAllowed %s", st.GetConditions(), tc.reason)
			}
			if got := strings.Join(DisruptedNames(st), ","); got != strings.Join(tc.disrupted, ",") {
				t.Errorf("disruptedPods %s, want %v", got, tc.disrupted)
			}
			if res.Recheck != tc.recheck {
				t.Errorf("recheck %v, want %v", res.Recheck, tc.recheck)
			}
			// A second sync on the written status changes nothing.
			again := proto.Clone(tc.pdb).(*policyv1.PodDisruptionBudget)
			again.Status = st
			if res2 := Compute(Input{PDB: again, Pods: tc.pods, Scales: tc.scales, Now: t0}); res2.Status != nil {
				t.Errorf("not stable: %v then %v", st, res2.Status)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	status := func(p *policyv1.PodDisruptionBudget, allowed, current, desired int32) *policyv1.PodDisruptionBudget {
		p.Status = &policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: proto.Int32(allowed),
			CurrentHealthy: proto.Int32(current), DesiredHealthy: proto.Int32(desired)}
		return p
	}
	pending := pod("a", "rs1", false)
	pending.Status.Phase = "Pending"
	stale := status(budget(2, nil), 1, 3, 2)
	stale.Metadata.Generation = 2
	alwaysAllow := status(budget(2, nil), 0, 1, 2)
	alwaysAllow.Spec.UnhealthyPodEvictionPolicy = proto.String(PolicyAlwaysAllow)
	tests := map[string]struct {
		pod     *corev1.Pod
		budgets []*policyv1.PodDisruptionBudget

		useBudget bool   // the budget is written back, one disruption fewer
		reason    string // the error's reason ("" = allowed)
		message   string // a substring of the error's causes
	}{
		"no budget":                          {pod: pod("a", "rs1", true)},
		"allowed: the budget is used":        {pod: pod("a", "rs1", true), budgets: []*policyv1.PodDisruptionBudget{status(budget(2, nil), 1, 3, 2)}, useBudget: true},
		"no disruption left: 429":            {pod: pod("a", "rs1", true), budgets: []*policyv1.PodDisruptionBudget{status(budget(3, nil), 0, 3, 3)}, reason: apierr.ReasonTooManyRequests, message: "The disruption budget web-pdb needs 3 healthy pods and has 3 currently"},
		"a budget not observed yet: 429":     {pod: pod("a", "rs1", true), budgets: []*policyv1.PodDisruptionBudget{stale}, reason: apierr.ReasonTooManyRequests, message: "The disruption budget web-pdb is still being processed by the server."},
		"two budgets: an internal error":     {pod: pod("a", "rs1", true), budgets: []*policyv1.PodDisruptionBudget{budget(1, nil), budget(1, nil)}, reason: apierr.ReasonInternalError},
		"a Pending pod ignores its budget":   {pod: pending, budgets: []*policyv1.PodDisruptionBudget{status(budget(3, nil), 0, 3, 3)}},
		"a pod being deleted ignores it too": {pod: deleting(pod("a", "rs1", true)), budgets: []*policyv1.PodDisruptionBudget{status(budget(3, nil), 0, 3, 3)}},
		"an unready pod while the budget is healthy goes free": {pod: pod("a", "rs1", false),
			budgets: []*policyv1.PodDisruptionBudget{status(budget(2, nil), 0, 2, 2)}},
		"an unready pod while the budget is short: 429": {pod: pod("a", "rs1", false),
			budgets: []*policyv1.PodDisruptionBudget{status(budget(2, nil), 0, 1, 2)}, reason: apierr.ReasonTooManyRequests},
		"AlwaysAllow: an unready pod goes even when short": {pod: pod("a", "rs1", false), budgets: []*policyv1.PodDisruptionBudget{alwaysAllow}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Decide(tc.pod, tc.budgets, t0)
			if got := apierr.Reason(d.Err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, d.Err, tc.reason)
			}
			if tc.reason == apierr.ReasonTooManyRequests {
				if apierr.Message(d.Err) != MsgViolation {
					t.Errorf("message %q", apierr.Message(d.Err))
				}
				_, _, _, causes := apierr.Details(d.Err)
				if len(causes) != 1 || causes[0].Type != CauseDisruptionBudget || !strings.Contains(causes[0].Message, tc.message) {
					t.Errorf("causes %v, want %q", causes, tc.message)
				}
			}
			if (d.Budget != nil) != tc.useBudget {
				t.Fatalf("budget written %v, want %v", d.Budget != nil, tc.useBudget)
			}
			if d.Budget != nil {
				before := tc.budgets[0].GetStatus().GetDisruptionsAllowed()
				if d.Budget.Status.GetDisruptionsAllowed() != before-1 || d.Budget.Status.GetDisruptedPods()["a"] == nil {
					t.Errorf("budget status %v", d.Budget.Status)
				}
				if tc.budgets[0].GetStatus().GetDisruptedPods() != nil {
					t.Error("the budget read was changed in place")
				}
				// The last disruption taken: the condition says so at once.
				if c := d.Budget.Status.GetConditions(); before == 1 && (len(c) != 1 || c[0].GetReason() != ReasonInsufficientPods) {
					t.Errorf("conditions %v", c)
				}
			}
		})
	}
}

func TestSelects(t *testing.T) {
	none := budget(1, nil)
	none.Spec.Selector = nil
	all := budget(1, nil)
	all.Spec.Selector = &corev1.LabelSelector{}
	other := pod("x", "", true)
	other.Metadata.Labels = map[string]string{"app": "db"}
	elsewhere := pod("y", "", true)
	elsewhere.Metadata.Namespace = "prod"
	tests := map[string]struct {
		pdb  *policyv1.PodDisruptionBudget
		pod  *corev1.Pod
		want bool
	}{
		"matching labels":              {pdb: budget(1, nil), pod: pod("a", "", true), want: true},
		"other labels":                 {pdb: budget(1, nil), pod: other},
		"another namespace":            {pdb: budget(1, nil), pod: elsewhere},
		"no selector selects nothing":  {pdb: none, pod: pod("a", "", true)},
		"an empty selector: every pod": {pdb: all, pod: other, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Selects(tc.pdb, tc.pod); got != tc.want {
				t.Errorf("Selects = %v, want %v", got, tc.want)
			}
		})
	}
}
