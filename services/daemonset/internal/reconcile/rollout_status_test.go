package reconcile

import (
	"testing"

	"google.golang.org/protobuf/proto"

	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

func TestRolloutStatus(t *testing.T) {
	status := func(gen int64, desired, updated, available int32) dsOpt {
		return func(ds *daemonsetv1.DaemonSet) {
			ds.Status = &daemonsetv1.DaemonSetStatus{ObservedGeneration: gen, DesiredNumberScheduled: proto.Int32(desired),
				UpdatedNumberScheduled: updated, NumberAvailable: available}
		}
	}
	cases := map[string]struct {
		ds      *daemonsetv1.DaemonSet
		want    string
		done    bool
		wantErr bool
	}{
		"not observed": {ds: daemonSet(status(0, 3, 3, 3)), want: "Waiting for daemon set spec update to be observed...\n"},
		"updating":     {ds: daemonSet(status(1, 3, 1, 3)), want: "Waiting for daemon set \"agent\" rollout to finish: 1 out of 3 new pods have been updated...\n"},
		"availability": {ds: daemonSet(status(1, 3, 3, 2)), want: "Waiting for daemon set \"agent\" rollout to finish: 2 of 3 updated pods are available...\n"},
		"done":         {ds: daemonSet(status(1, 3, 3, 3)), want: "daemon set \"agent\" successfully rolled out\n", done: true},
		"OnDelete": {ds: daemonSet(func(ds *daemonsetv1.DaemonSet) {
			ds.Spec.UpdateStrategy = &daemonsetv1.DaemonSetUpdateStrategy{Type: OnDelete}
		}),
			done: true, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			msg, done, err := RolloutStatus(tc.ds)
			if (err != nil) != tc.wantErr || msg != tc.want || done != tc.done {
				t.Fatalf("got (%q, %v, %v)", msg, done, err)
			}
		})
	}
}
