package reconcile

import (
	"testing"

	"google.golang.org/protobuf/proto"

	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// TestRolloutStatus follows kubectl's StatefulSetStatusViewer, quirks included: a
// rollingUpdate stanza (the API's default) makes every answer "partitioned".
func TestRolloutStatus(t *testing.T) {
	status := func(gen, ready, updated, current int32, cur, upd string) *statefulsetv1.StatefulSetStatus {
		return &statefulsetv1.StatefulSetStatus{ObservedGeneration: int64(gen), ReadyReplicas: ready, UpdatedReplicas: updated,
			CurrentReplicas: current, CurrentRevision: cur, UpdateRevision: upd}
	}
	noStanza := func(s *statefulsetv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate = nil }
	cases := []struct {
		name string
		set  *statefulsetv1.StatefulSet
		st   *statefulsetv1.StatefulSetStatus
		msg  string
		done bool
	}{
		{"spec not observed", set(3), status(0, 3, 3, 3, "a", "a"), "Waiting for statefulset spec update to be observed...\n", false},
		{"pods not ready", set(3), status(1, 1, 3, 3, "a", "a"), "Waiting for 2 pods to be ready...\n", false},
		{"partition 3 of 5 waiting", set(5, partition(3)), status(1, 5, 1, 4, "a", "b"), "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...\n", false},
		{"partition 3 of 5 done", set(5, partition(3)), status(1, 5, 2, 3, "a", "b"), "partitioned roll out complete: 2 new pods have been updated...\n", true},
		{"partition 0 done reads partitioned, like kubectl", set(3), status(1, 3, 3, 3, "b", "b"), "partitioned roll out complete: 3 new pods have been updated...\n", true},
		{"no rollingUpdate stanza: waiting for revision", set(3, noStanza), status(1, 3, 1, 2, "a", "b"), "waiting for statefulset rolling update to complete 1 pods at revision b...\n", false},
		{"no rollingUpdate stanza: complete", set(3, noStanza), status(1, 3, 3, 3, "b", "b"), "statefulset rolling update complete 3 pods at revision b...\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.set.Status = proto.Clone(tc.st).(*statefulsetv1.StatefulSetStatus)
			msg, done, err := RolloutStatus(tc.set)
			if err != nil || msg != tc.msg || done != tc.done {
				t.Fatalf("got %q %v %v, want %q %v", msg, done, err, tc.msg, tc.done)
			}
		})
	}
	if _, _, err := RolloutStatus(set(1, onDelete)); err == nil {
		t.Fatal("OnDelete: no error")
	}
}
