// Package nodelease is what a kubelet keeps moving while it runs, computed
// rather than written: its node Lease in kube-node-lease (renewed every 10 s)
// and the heartbeat times of its node's conditions (a status report every
// 5 minutes when nothing changes). The simulated kubelets of the node service
// run as long as their node's Ready condition is not Unknown, so both are
// functions of the stored node and the time: at 5,000 nodes a kubelet-like
// renewal would be 500 writes a second for nothing a controller here reads.
package nodelease

import (
	"time"

	"github.com/google/uuid"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	coordinationv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/coordination/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// A kubelet's timing (its defaults: nodeLeaseDurationSeconds, the renew
// interval of a quarter of it, nodeStatusReportFrequency).
const (
	Namespace             = "kube-node-lease"
	LeaseDurationSeconds  = 40
	RenewInterval         = 10 * time.Second
	StatusReportFrequency = 5 * time.Minute
)

// LastTick is the latest since + k*every (k >= 0) not after now; since when
// now is before it.
func LastTick(since, now time.Time, every time.Duration) time.Time {
	if !now.After(since) {
		return since
	}
	return since.Add(now.Sub(since) / every * every)
}

// readyCondition is the node's Ready condition, nil if it has none.
func readyCondition(n *nodev1.Node) *corev1.Condition {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c
		}
	}
	return nil
}

// Posting reports whether the node's kubelet runs: it has posted a Ready
// condition that the node lifecycle controller has not marked Unknown.
func Posting(n *nodev1.Node) bool {
	c := readyCondition(n)
	return c != nil && c.GetStatus() != "Unknown"
}

// stoppedAt is when a stopped kubelet stopped (its Ready condition turned Unknown).
func stoppedAt(n *nodev1.Node, now time.Time) time.Time {
	if c := readyCondition(n); c.GetLastTransitionTime() != nil {
		return c.GetLastTransitionTime().AsTime()
	}
	return now
}

func created(n *nodev1.Node, now time.Time) time.Time {
	if t := n.GetMetadata().GetCreationTimestamp(); t != nil {
		return t.AsTime()
	}
	return now
}

// WithHeartbeats is n with each condition's lastHeartbeatTime at its kubelet's
// latest status report at now (every StatusReportFrequency since the node
// registered, never before what is stored); n itself is left alone. A stopped
// kubelet's heartbeats stay as stored.
func WithHeartbeats(n *nodev1.Node, now time.Time) *nodev1.Node {
	if !Posting(n) {
		return n
	}
	beat := LastTick(created(n, now), now, StatusReportFrequency).Truncate(time.Second)
	out := proto.Clone(n).(*nodev1.Node)
	for _, c := range out.GetStatus().GetConditions() {
		if c.GetLastHeartbeatTime() == nil || c.GetLastHeartbeatTime().AsTime().Before(beat) {
			c.LastHeartbeatTime = timestamppb.New(beat)
		}
	}
	return out
}

// RenewTime is when n's kubelet last renewed its Lease at now: the latest
// RenewInterval since the node registered, or the last one before its kubelet
// stopped.
func RenewTime(n *nodev1.Node, now time.Time) time.Time {
	at := now
	if !Posting(n) {
		at = stoppedAt(n, now)
	}
	return LastTick(created(n, now), at, RenewInterval)
}

// microTime is Kubernetes' MicroTime JSON form.
func microTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

// leaseUID is the Lease's own uid, derived from its node's (stable, distinct).
func leaseUID(nodeUID string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("kube-node-lease/"+nodeUID)).String()
}

// Lease is n's kubelet's Lease at now, as a kubelet keeps it: named after the
// node in kube-node-lease, held by the node, owned by the Node, renewed at
// RenewTime. Its resourceVersion is the node's (it changes with the node, not
// with each renewal: a renewal is computed, not written).
func Lease(n *nodev1.Node, now time.Time) *coordinationv1.Lease {
	m := n.GetMetadata()
	holder, duration := m.GetName(), int32(LeaseDurationSeconds)
	renew := microTime(RenewTime(n, now))
	return &coordinationv1.Lease{
		ApiVersion: "coordination.k8s.io/v1", Kind: "Lease",
		Metadata: &corev1.ObjectMeta{
			Name: m.GetName(), Namespace: Namespace, Uid: leaseUID(m.GetUid()), ResourceVersion: m.GetResourceVersion(),
			CreationTimestamp: m.GetCreationTimestamp(),
			OwnerReferences:   []*corev1.OwnerReference{{ApiVersion: "v1", Kind: "Node", Name: m.GetName(), Uid: m.GetUid()}},
		},
		Spec: &coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &duration, RenewTime: &renew},
	}
}
