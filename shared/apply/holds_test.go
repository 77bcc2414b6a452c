package apply

import (
	"testing"
	"time"

	"github.com/podwarden/podwarden/shared/podview"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func heldPod(name, ownerUID string) *corev1.Pod {
	t := true
	return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "ns",
		OwnerReferences: []*corev1.OwnerReference{{Kind: "Job", Name: "j", Uid: ownerUID, Controller: &t}}}}
}

// TestHoldCreates: after a refusal, the owner's pod creations are dropped from its
// plans (other writes and other owners' creations stay) until the hold ends, and
// the plan asks for a sync then; each batch of refusals doubles the wait.
func TestHoldCreates(t *testing.T) {
	now := time.Unix(1000, 0)
	in := &Informer{}
	in.HoldCreates([]podview.Refusal{{OwnerUID: "job-1"}, {OwnerUID: "job-1"}}, now)
	plan := Plan{Writes: []Write{CreatePod(heldPod("a", "job-1")), CreatePod(heldPod("b", "job-2")), Do("status", nil)}}

	got := in.holdCreates(plan, now.Add(300*time.Millisecond))
	if len(got.Writes) != 2 || got.Writes[0].obj.GetMetadata().GetName() != "b" || got.Writes[1].what != "status" {
		t.Fatalf("writes %v", got.Writes)
	}
	if got.Requeue != 700*time.Millisecond {
		t.Fatalf("requeue %v", got.Requeue)
	}
	if got := in.holdCreates(plan, now.Add(time.Second)); len(got.Writes) != 3 {
		t.Fatalf("after the hold: writes %v", got.Writes)
	}
	in.HoldCreates([]podview.Refusal{{OwnerUID: "job-1"}}, now.Add(time.Second))
	if got := in.holdCreates(plan, now.Add(2900*time.Millisecond)); len(got.Writes) != 2 || got.Requeue != 100*time.Millisecond {
		t.Fatalf("second refusal waits 2s: writes %v, requeue %v", got.Writes, got.Requeue)
	}
}
