package fleet

import (
	"slices"
	"testing"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/scheduler"

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
	nodes := Bootstrap(3, Capacity{CPU: "4", Memory: "16Gi", Pods: 110}, now)
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
	n := Bootstrap(2, Capacity{CPU: "4", Memory: "16Gi", Pods: 110}, now)[1]
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

func TestFreeIndex(t *testing.T) {
	nodes := Bootstrap(3, Capacity{CPU: "4", Memory: "16Gi", Pods: 110}, now)
	if got := FreeIndex(nodes); got != 3 {
		t.Errorf("FreeIndex = %d, want 3", got)
	}
	if got := FreeIndex(append(nodes[:1:1], nodes[2])); got != 1 {
		t.Errorf("FreeIndex with a gap = %d, want 1", got)
	}
}
