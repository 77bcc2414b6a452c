package fleet

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/scheduler"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

var now = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestNames(t *testing.T) {
	cases := map[string]struct {
		n    int
		want []string
	}{
		"none":    {n: 0},
		"one":     {n: 1, want: []string{"control-plane"}},
		"default": {n: 3, want: []string{"control-plane", "node-1", "node-2"}},
		"five":    {n: 5, want: []string{"control-plane", "node-1", "node-2", "node-3", "node-4"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Names(tc.n); !slices.Equal(got, tc.want) {
				t.Errorf("Names(%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
}

func TestBootstrap(t *testing.T) {
	nodes := Bootstrap(3, ipam.DefaultPlan(), Capacity{CPU: "4", Memory: "16Gi", Pods: 110}, now)
	cp, w := nodes[0], nodes[2]
	if _, ok := cp.Metadata.Labels[LabelControlPlane]; !ok || len(cp.Spec.Taints) != 1 || cp.Spec.Taints[0].Effect != "NoSchedule" {
		t.Errorf("control-plane: labels %v taints %v", cp.Metadata.Labels, cp.Spec.Taints)
	}
	if w.Metadata.Labels[LabelHostname] != "node-2" || w.Spec.PodCidr != "10.244.2.0/24" || InternalIP(w) != "172.18.0.4" {
		t.Errorf("node-2: labels %v podCIDR %s ip %s", w.Metadata.Labels, w.Spec.PodCidr, InternalIP(w))
	}
	if scheduler.ReadyStatus(w) != "True" || w.Status.Allocatable["pods"].GetStringValue() != "110" || len(w.Spec.Taints) != 0 {
		t.Errorf("node-2 status: %v", w.Status)
	}
}

func TestSetReady(t *testing.T) {
	n := Bootstrap(2, ipam.DefaultPlan(), Capacity{CPU: "4", Memory: "16Gi", Pods: 110}, now)[1]
	if SetReady(n, true, now) {
		t.Error("ready node changed by SetReady(true)")
	}
	if !SetReady(n, false, now) || scheduler.ReadyStatus(n) != "Unknown" || len(n.Spec.Taints) != 2 {
		t.Fatalf("not ready: conditions %v taints %v", n.Status.Conditions, n.Spec.Taints)
	}
	if c := n.Status.Conditions[3]; c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." {
		t.Errorf("Ready condition = %v", c)
	}
	if !SetReady(n, true, now) || scheduler.ReadyStatus(n) != "True" || len(n.Spec.Taints) != 0 {
		t.Errorf("ready again: conditions %v taints %v", n.Status.Conditions, n.Spec.Taints)
	}
}

func TestSyncTaints(t *testing.T) {
	n := &nodev1.Node{Spec: &nodev1.NodeSpec{Unschedulable: true}}
	SyncTaints(n, now)
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != scheduler.TaintNodeUnschedulable {
		t.Fatalf("cordoned: taints %v", n.Spec.Taints)
	}
	SyncTaints(n, now)
	if len(n.Spec.Taints) != 1 {
		t.Fatalf("cordoned twice: taints %v", n.Spec.Taints)
	}
	n.Spec.Unschedulable = false
	SyncTaints(n, now)
	if len(n.Spec.Taints) != 0 {
		t.Errorf("uncordoned: taints %v", n.Spec.Taints)
	}
}

func TestFree(t *testing.T) {
	def := ipam.DefaultPlan()
	capacity := Capacity{CPU: "4", Memory: "16Gi", Pods: 110}
	nodes := Bootstrap(3, def, capacity, now)
	if a, i, err := Free(def, nodes); a != (Addresses{PodCIDR: "10.244.3.0/24", InternalIP: "172.18.0.5"}) || i != 3 || err != nil {
		t.Errorf("Free = %v, %d, %v", a, i, err)
	}
	if a, i, err := Free(def, append(nodes[:1:1], nodes[2])); a != (Addresses{PodCIDR: "10.244.1.0/24", InternalIP: "172.18.0.3"}) || i != 1 || err != nil {
		t.Errorf("Free with a gap = %v, %d, %v", a, i, err)
	}
	// A restart with a /26 plan: the nodes keep their /24s, which hold the
	// first 12 /26s; a new node gets the 13th podCIDR and the 4th InternalIP.
	small, err := ipam.NewPlan("10.244.0.0/16", 26, "")
	if err != nil {
		t.Fatal(err)
	}
	a, i, err := Free(small, nodes)
	if err != nil || a != (Addresses{PodCIDR: "10.244.3.0/26", InternalIP: "172.18.0.5"}) || i != 12 {
		t.Fatalf("Free under a /26 plan = %v, %d, %v", a, i, err)
	}
	n := &nodev1.Node{Metadata: &corev1.ObjectMeta{Name: "node-3"}}
	Register(n, a, i, capacity, now)
	if n.Spec.PodCidr != "10.244.3.0/26" || !slices.Equal(n.Spec.PodCidrs, []string{"10.244.3.0/26"}) || InternalIP(n) != "172.18.0.5" {
		t.Errorf("node-3: podCIDRs %v ip %s", n.Spec.PodCidrs, InternalIP(n))
	}
	// Existing nodes keep theirs when registered again.
	Register(nodes[1], Addresses{PodCIDR: "10.244.9.0/26", InternalIP: "172.18.0.9"}, 9, Capacity{}, now)
	if nodes[1].Spec.PodCidr != "10.244.1.0/24" || InternalIP(nodes[1]) != "172.18.0.3" {
		t.Errorf("node-1 renumbered: %s %s", nodes[1].Spec.PodCidr, InternalIP(nodes[1]))
	}
	// A full plan is an error that names it.
	one, err := ipam.NewPlan("10.244.0.0/24", 24, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Free(one, nodes); !errors.Is(err, ipam.ErrPlanFull) {
		t.Errorf("Free in a full plan: %v", err)
	}
	few, err := ipam.NewPlan("", 0, "192.168.0.0/29")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Free(few, append(nodes, Bootstrap(5, few, capacity, now)...)); !errors.Is(err, ipam.ErrPlanFull) {
		t.Errorf("Free with a full node network: %v", err)
	}
}
