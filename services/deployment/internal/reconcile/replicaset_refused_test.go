package reconcile

import (
	"testing"
	"time"

	"github.com/podwarden/podwarden/shared/podview"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func rsConfirmed(p *corev1.Pod) {
	if p.Metadata.Annotations == nil {
		p.Metadata.Annotations = map[string]string{}
	}
	p.Metadata.Annotations[podview.ObservedVersionKey] = "7"
}

// TestPlanReplicaSetCreateRefused: a pod the node service refused (a quota) is
// the ReplicaFailure condition's FailedCreate until the owner has every replica
// confirmed; creates wait for RetryAt; each refusal is one FailedCreate event.
func TestPlanReplicaSetCreateRefused(t *testing.T) {
	refused := errTestQuota
	tests := map[string]struct {
		pods        []*corev1.Pod
		retryAt     time.Time
		reports     []string
		wantCreate  int
		wantFailure bool
		wantResolve bool
		wantRequeue time.Duration
		wantEvents  []string
	}{
		"waiting: no create, condition set, event recorded, requeued at RetryAt": {
			pods:    []*corev1.Pod{rsTestPod("a", rsConfirmed), rsTestPod("b", rsConfirmed)},
			retryAt: rsNow.Add(4 * time.Second), reports: []string{refused.Error()},
			wantFailure: true, wantRequeue: 4 * time.Second,
			wantEvents: []string{"Warning FailedCreate Error creating: " + refused.Error()},
		},
		"after RetryAt the missing pods are asked for again, the condition stays": {
			pods:       []*corev1.Pod{rsTestPod("a", rsConfirmed), rsTestPod("b", rsConfirmed)},
			retryAt:    rsNow.Add(-time.Second),
			wantCreate: 3, wantFailure: true,
			wantEvents: []string{"Normal SuccessfulCreate", "Normal SuccessfulCreate", "Normal SuccessfulCreate"},
		},
		"all replicas there but not yet confirmed: still failing": {
			pods:        []*corev1.Pod{rsTestPod("a", rsConfirmed), rsTestPod("b", rsConfirmed), rsTestPod("c"), rsTestPod("d"), rsTestPod("e")},
			retryAt:     rsNow.Add(-time.Second),
			wantFailure: true,
		},
		"all replicas confirmed: resolved, the condition goes": {
			pods:        []*corev1.Pod{rsTestPod("a", rsConfirmed), rsTestPod("b", rsConfirmed), rsTestPod("c", rsConfirmed), rsTestPod("d", rsConfirmed), rsTestPod("e", rsConfirmed)},
			retryAt:     rsNow.Add(time.Minute),
			wantResolve: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := ReplicaSetPlanner{NameSuffix: rsSuffixes("v", "w", "x", "y", "z"), CreateRefused: refused, RetryAt: tc.retryAt, Refused: tc.reports}
			plan := p.PlanReplicaSet(rsTestReplicaSet(5), tc.pods, nil, rsNow)
			if len(plan.Create) != tc.wantCreate {
				t.Errorf("creates %d, want %d", len(plan.Create), tc.wantCreate)
			}
			failure := replicaCondition(plan.Status.GetConditions(), ReplicaSetReplicaFailure)
			if (failure != nil) != tc.wantFailure {
				t.Fatalf("ReplicaFailure %v, want %v", failure, tc.wantFailure)
			}
			if failure != nil && (failure.GetReason() != ReasonFailedCreate || failure.GetMessage() != refused.Error()) {
				t.Errorf("condition %v", failure)
			}
			if plan.RefusalResolved != tc.wantResolve {
				t.Errorf("resolved %v, want %v", plan.RefusalResolved, tc.wantResolve)
			}
			if plan.RequeueAfter != tc.wantRequeue {
				t.Errorf("requeue %v, want %v", plan.RequeueAfter, tc.wantRequeue)
			}
			var events []string
			for _, e := range plan.Events {
				s := e.GetType() + " " + e.GetReason()
				if e.GetReason() == ReasonFailedCreate {
					s += " " + e.GetMessage()
				}
				events = append(events, s)
			}
			if len(events) != len(tc.wantEvents) {
				t.Fatalf("events %q, want %q", events, tc.wantEvents)
			}
			for i := range events {
				if events[i] != tc.wantEvents[i] {
					t.Fatalf("events %q, want %q", events, tc.wantEvents)
				}
			}
		})
	}
}
