package nodelease

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func node(readyStatus string, transition time.Time) *nodev1.Node {
	ts := timestamppb.New(t0)
	return &nodev1.Node{
		Metadata: &corev1.ObjectMeta{Name: "node-1", Uid: "u1", CreationTimestamp: ts, ResourceVersion: "7"},
		Status: &nodev1.NodeStatus{Conditions: []*corev1.Condition{
			{Type: "MemoryPressure", Status: "False", LastHeartbeatTime: ts, LastTransitionTime: ts},
			{Type: "Ready", Status: readyStatus, LastHeartbeatTime: ts, LastTransitionTime: timestamppb.New(transition)},
		}},
	}
}

func TestLastTick(t *testing.T) {
	tests := map[string]struct {
		now  time.Time
		want time.Time
	}{
		"at the start":       {now: t0, want: t0},
		"before the start":   {now: t0.Add(-time.Hour), want: t0},
		"between two ticks":  {now: t0.Add(25 * time.Second), want: t0.Add(20 * time.Second)},
		"on a tick":          {now: t0.Add(30 * time.Second), want: t0.Add(30 * time.Second)},
		"an hour and a half": {now: t0.Add(90*time.Minute + 9*time.Second), want: t0.Add(90 * time.Minute)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := LastTick(t0, tc.now, RenewInterval); !got.Equal(tc.want) {
				t.Errorf("LastTick = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRenewTimeAndHeartbeats(t *testing.T) {
	tests := map[string]struct {
		node      *nodev1.Node
		now       time.Time
		renew     time.Time
		heartbeat time.Time
	}{
		"a running kubelet renews every 10 s": {
			node: node("True", t0), now: t0.Add(7*time.Minute + 15*time.Second),
			renew: t0.Add(7*time.Minute + 10*time.Second), heartbeat: t0.Add(5 * time.Minute),
		},
		"a kubelet posting NotReady still renews": {
			node: node("False", t0.Add(time.Minute)), now: t0.Add(61 * time.Second),
			renew: t0.Add(60 * time.Second), heartbeat: t0,
		},
		"a stopped kubelet's lease and heartbeats stop": {
			node: node("Unknown", t0.Add(95*time.Second)), now: t0.Add(time.Hour),
			renew: t0.Add(90 * time.Second), heartbeat: t0,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := Lease(tc.node, tc.now)
			if got := l.GetSpec().GetRenewTime(); got != microTime(tc.renew) {
				t.Errorf("renewTime %s, want %s", got, microTime(tc.renew))
			}
			if l.GetMetadata().GetNamespace() != Namespace || l.GetSpec().GetHolderIdentity() != "node-1" || l.GetSpec().GetLeaseDurationSeconds() != 40 ||
				l.GetMetadata().GetOwnerReferences()[0].GetKind() != "Node" || l.GetMetadata().GetUid() == "u1" {
				t.Errorf("lease %v", l)
			}
			hb := WithHeartbeats(tc.node, tc.now)
			for _, c := range hb.GetStatus().GetConditions() {
				if got := c.GetLastHeartbeatTime().AsTime(); !got.Equal(tc.heartbeat) {
					t.Errorf("%s heartbeat %v, want %v", c.GetType(), got, tc.heartbeat)
				}
			}
			if tc.node.GetStatus().GetConditions()[0].GetLastHeartbeatTime().AsTime() != t0 {
				t.Error("WithHeartbeats changed its argument")
			}
		})
	}
}
