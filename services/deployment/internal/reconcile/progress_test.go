package reconcile

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// TestProgressDeadline: a rollout whose new pods never turn Ready times out
// progressDeadlineSeconds after its last progress.
func TestProgressDeadline(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 3, image: "v1", maxSurge: 1, maxUnavailable: 0, deadline: proto.Int32(30)}))
	w.settle(50)
	w.broken["v2"] = true
	w.setImage("v2")
	plan := w.step(time.Second)
	newName := w.rsForImage("v2").GetMetadata().GetName()
	if plan.Requeue != 31*time.Second {
		t.Fatalf("requeue %v, want 31s", plan.Requeue)
	}
	// The new pod exists (updatedReplicas 0 -> 1): that is progress.
	w.step(time.Second)
	lastProgress := w.now
	cond := GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing)
	if cond.GetReason() != ReplicaSetUpdatedReason || !cond.GetLastUpdateTime().AsTime().Equal(lastProgress) {
		t.Fatalf("Progressing %v", cond)
	}

	// Nothing happens for 20s: no progress, no timeout; the requeue shrinks.
	plan = w.step(20 * time.Second)
	cond = GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing)
	if cond.GetReason() != ReplicaSetUpdatedReason || plan.Changed() {
		t.Fatalf("Progressing %v, changed %v", cond, plan.Changed())
	}
	if plan.Requeue != 11*time.Second {
		t.Fatalf("requeue %v, want 11s", plan.Requeue)
	}

	// Exactly at the deadline: not yet (Kubernetes compares strictly).
	w.step(lastProgress.Add(30 * time.Second).Sub(w.now))
	if cond := GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing); cond.GetReason() == TimedOutReason {
		t.Fatal("timed out at the deadline itself")
	}
	plan = w.step(time.Second)
	cond = GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing)
	wantMsg := fmt.Sprintf("ReplicaSet %q has timed out progressing.", newName)
	if cond.GetStatus() != ConditionFalse || cond.GetReason() != TimedOutReason || cond.GetMessage() != wantMsg {
		t.Fatalf("Progressing %v", cond)
	}
	if !cond.GetLastTransitionTime().AsTime().Equal(w.now) || plan.Requeue != 0 {
		t.Fatalf("lastTransitionTime %v requeue %v", cond.GetLastTransitionTime().AsTime(), plan.Requeue)
	}
	if _, _, err := RolloutStatus(w.d, 0); err == nil || err.Error() != `deployment "nginx" exceeded its progress deadline` {
		t.Fatalf("RolloutStatus err %v", err)
	}
	// Old pods keep serving.
	if w.d.GetStatus().GetAvailableReplicas() != 3 {
		t.Fatalf("available %d", w.d.GetStatus().GetAvailableReplicas())
	}

	// A fixed template makes progress again: Progressing goes back to True.
	w.setImage("v3")
	w.settle(100)
	cond = GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing)
	if cond.GetStatus() != ConditionTrue || cond.GetReason() != NewRSAvailableReason {
		t.Fatalf("Progressing %v", cond)
	}
}

// TestProgressDeadlineDisabled: no deadline (MaxInt32) means no Progressing condition.
func TestProgressDeadlineDisabled(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 2, image: "v1", deadline: proto.Int32(2147483647)}))
	w.settle(50)
	if c := GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing); c != nil {
		t.Fatalf("Progressing %v", c)
	}
	if c := GetDeploymentCondition(w.d.GetStatus(), DeploymentAvailable); c.GetStatus() != ConditionTrue {
		t.Fatalf("Available %v", c)
	}
}

// TestPausedTimeDoesNotCount: pausing mid-rollout for longer than the
// deadline, then resuming, does not time out.
func TestPausedTimeDoesNotCount(t *testing.T) {
	w := newDepWorld(t, depNew(depSpec{replicas: 2, image: "v1", deadline: proto.Int32(10), maxSurge: 1, maxUnavailable: 0}))
	w.settle(50)
	w.setImage("v2")
	w.step(time.Second)
	w.d.Spec.Paused = true
	w.step(time.Second)
	w.step(time.Minute)
	w.d.Spec.Paused = false
	w.step(time.Second)
	if c := GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing); c.GetReason() == TimedOutReason {
		t.Fatalf("timed out after resume: %v", c)
	}
	w.settle(50)
	if c := GetDeploymentCondition(w.d.GetStatus(), DeploymentProgressing); c.GetReason() != NewRSAvailableReason {
		t.Fatalf("Progressing %v", c)
	}
}

// TestMinReadySecondsRequeue: a Ready pod is not available before
// minReadySeconds; the plan asks to come back exactly then.
func TestMinReadySecondsRequeue(t *testing.T) {
	d := depNew(depSpec{replicas: 2, image: "v1", minReadySeconds: 10})
	d.Metadata.Annotations = map[string]string{RevisionAnnotation: "1"}
	rs := depRS(d, "v1", "a", 1, 2, 3)
	rs.Spec.MinReadySeconds = 10
	pods := depPods(rs, 2, 2) // Ready since depT0
	tests := map[string]struct {
		now           time.Time
		wantAvailable int32
		wantRequeue   time.Duration
	}{
		"ready 4s":  {now: depT0.Add(4 * time.Second), wantAvailable: 0, wantRequeue: 6 * time.Second},
		"ready 10s": {now: depT0.Add(10 * time.Second), wantAvailable: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			plan := PlanDeployment(d, depRSs(rs), pods, tc.now)
			if plan.Status.GetAvailableReplicas() != tc.wantAvailable || plan.Status.GetReadyReplicas() != 2 {
				t.Fatalf("status %v", plan.Status)
			}
			if tc.wantRequeue != 0 && plan.Requeue != tc.wantRequeue {
				t.Fatalf("requeue %v, want %v", plan.Requeue, tc.wantRequeue)
			}
		})
	}
}
