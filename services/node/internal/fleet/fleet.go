// Package fleet builds the simulated nodes: the fleet created at first start and
// the status a registering kubelet gives a node created through the API, plus
// the Ready/NotReady transitions of SetNodeReady. Pure functions.
package fleet

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/ipam"
	"github.com/podwarden/podwarden/services/node/internal/scheduler"
	"github.com/podwarden/podwarden/shared/nodelease"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Well-known node labels and the control-plane taint.
const (
	LabelHostname     = "kubernetes.io/hostname"
	LabelOS           = "kubernetes.io/os"
	LabelArch         = "kubernetes.io/arch"
	LabelControlPlane = "node-role.kubernetes.io/control-plane"
	ControlPlane      = "control-plane"
	KubeletVersion    = "v1.33.0"
)

// Capacity is what each simulated node offers.
type Capacity struct {
	CPU    string // "4"
	Memory string // "16Gi"
	Pods   int    // 110
}

// Names are the nodes of a fleet of n: control-plane, node-1 ... node-(n-1).
func Names(n int) []string {
	if n <= 0 {
		return nil
	}
	out := []string{ControlPlane}
	for i := 1; i < n; i++ {
		out = append(out, fmt.Sprintf("node-%d", i))
	}
	return out
}

// Bootstrap returns the nodes of a fresh fleet of n: the control-plane node
// (labelled and tainted NoSchedule) and the workers, Ready, addressed by the
// plan (which must hold n: see ipam.Plan.Holds).
func Bootstrap(n int, plan ipam.Plan, c Capacity, now time.Time) []*nodev1.Node {
	var out []*nodev1.Node
	for i, name := range Names(n) {
		node := &nodev1.Node{Metadata: &corev1.ObjectMeta{Name: name}, Spec: &nodev1.NodeSpec{}}
		if name == ControlPlane {
			node.Metadata.Labels = map[string]string{LabelControlPlane: ""}
			node.Spec.Taints = []*corev1.Taint{{Key: LabelControlPlane, Effect: scheduler.EffectNoSchedule}}
		}
		Register(node, Addresses{PodCIDR: plan.PodCIDR(i), InternalIP: plan.NodeIP(i)}, i, c, now)
		out = append(out, node)
	}
	return out
}

// Addresses are what the address plan gives a node.
type Addresses struct {
	PodCIDR    string
	InternalIP string
}

// KubeletPort is the port a kubelet serves on (status.daemonEndpoints.kubeletEndpoint).
const KubeletPort = 10250

// Register fills in what a kubelet registering node (with fleet index) sets:
// type meta, the well-known labels, podCIDR, capacity/allocatable, Ready
// conditions, addresses (a's InternalIP) and nodeInfo. What is already set is
// kept.
func Register(n *nodev1.Node, a Addresses, index int, c Capacity, now time.Time) {
	n.ApiVersion, n.Kind = "v1", "Node"
	if n.Metadata == nil {
		n.Metadata = &corev1.ObjectMeta{}
	}
	m := n.Metadata
	m.Namespace = ""
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	for k, v := range map[string]string{LabelHostname: m.Name, LabelOS: "linux", LabelArch: "amd64",
		"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"} {
		if _, ok := m.Labels[k]; !ok {
			m.Labels[k] = v
		}
	}
	if n.Spec == nil {
		n.Spec = &nodev1.NodeSpec{}
	}
	if n.Spec.PodCidr == "" {
		n.Spec.PodCidr = a.PodCIDR
	}
	if len(n.Spec.PodCidrs) == 0 && n.Spec.PodCidr != "" {
		n.Spec.PodCidrs = []string{n.Spec.PodCidr}
	}
	if n.Spec.ProviderId == "" {
		n.Spec.ProviderId = "podwarden://" + m.Name
	}
	if n.Status == nil {
		n.Status = &nodev1.NodeStatus{}
	}
	st := n.Status
	if len(st.Capacity) == 0 {
		st.Capacity = map[string]*structpb.Value{
			"cpu":               structpb.NewStringValue(c.CPU),
			"memory":            structpb.NewStringValue(c.Memory),
			"pods":              structpb.NewStringValue(strconv.Itoa(c.Pods)),
			"ephemeral-storage": structpb.NewStringValue("100Gi"),
		}
	}
	if len(st.Allocatable) == 0 {
		st.Allocatable = map[string]*structpb.Value{}
		for k, v := range st.Capacity {
			st.Allocatable[k] = structpb.NewStringValue(v.GetStringValue())
			if v.GetStringValue() == "" {
				st.Allocatable[k] = v
			}
		}
	}
	if len(st.Conditions) == 0 {
		st.Conditions = ReadyConditions(now)
	}
	if len(st.Addresses) == 0 {
		st.Addresses = []*nodev1.NodeAddress{{Type: "InternalIP", Address: a.InternalIP}, {Type: "Hostname", Address: m.Name}}
	}
	if st.GetDaemonEndpoints().GetKubeletEndpoint().GetPort() == 0 {
		st.DaemonEndpoints = &nodev1.NodeDaemonEndpoints{KubeletEndpoint: &nodev1.DaemonEndpoint{Port: KubeletPort}}
	}
	if st.NodeInfo == nil {
		st.NodeInfo, _ = structpb.NewStruct(map[string]any{
			"machineID": fmt.Sprintf("%032x", index+1), "systemUUID": fmt.Sprintf("%032x", index+1),
			"bootID": fmt.Sprintf("%032x", index+1), "kernelVersion": "6.8.0-podwarden",
			"osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.7.24",
			"kubeletVersion": KubeletVersion, "kubeProxyVersion": KubeletVersion,
			"operatingSystem": "linux", "architecture": "amd64",
		})
	}
}

// ReadyConditions are the conditions a healthy kubelet posts.
func ReadyConditions(now time.Time) []*corev1.Condition {
	ts := timestamppb.New(now.Truncate(time.Second))
	return []*corev1.Condition{
		{Type: "MemoryPressure", Status: "False", Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available", LastHeartbeatTime: ts, LastTransitionTime: ts},
		{Type: "DiskPressure", Status: "False", Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure", LastHeartbeatTime: ts, LastTransitionTime: ts},
		{Type: "PIDPressure", Status: "False", Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available", LastHeartbeatTime: ts, LastTransitionTime: ts},
		{Type: "Ready", Status: "True", Reason: "KubeletReady", Message: "kubelet is posting ready status", LastHeartbeatTime: ts, LastTransitionTime: ts},
	}
}

// Node events of SetNodeReady.
const (
	ReasonNodeReady    = "NodeReady"
	ReasonNodeNotReady = "NodeNotReady"
)

// SetReady makes the node's kubelet post Ready again (ready) or stop posting
// (the node lifecycle controller then sets every condition Unknown with reason
// NodeStatusUnknown and taints the node unreachable, NoSchedule and NoExecute).
// It reports whether the node changed.
func SetReady(n *nodev1.Node, ready bool, now time.Time) bool {
	if scheduler.ReadyStatus(n) == "True" == ready {
		return false
	}
	if n.Status == nil {
		n.Status = &nodev1.NodeStatus{}
	}
	if n.Spec == nil {
		n.Spec = &nodev1.NodeSpec{}
	}
	ts := timestamppb.New(now.Truncate(time.Second))
	if ready {
		n.Status.Conditions = ReadyConditions(now)
		var kept []*corev1.Taint
		for _, t := range n.Spec.Taints {
			if t.GetKey() != scheduler.TaintNodeUnreachable && t.GetKey() != scheduler.TaintNodeNotReady {
				kept = append(kept, t)
			}
		}
		n.Spec.Taints = kept
		return true
	}
	if len(n.Status.Conditions) == 0 {
		n.Status.Conditions = ReadyConditions(now)
	}
	// The heartbeats stop at the kubelet's last status report.
	n.Status.Conditions = nodelease.WithHeartbeats(n, now).Status.Conditions
	for _, c := range n.Status.Conditions {
		c.Status, c.Reason, c.Message, c.LastTransitionTime = "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", ts
	}
	for _, effect := range []string{scheduler.EffectNoSchedule, scheduler.EffectNoExecute} {
		t := &corev1.Taint{Key: scheduler.TaintNodeUnreachable, Effect: effect}
		if effect == scheduler.EffectNoExecute {
			t.TimeAdded = ts
		}
		n.Spec.Taints = append(n.Spec.Taints, t)
	}
	return true
}

// SyncTaints is the node lifecycle controller's bookkeeping on a node update:
// spec.unschedulable carries the node.kubernetes.io/unschedulable:NoSchedule
// taint, and NoExecute taints get their timeAdded.
func SyncTaints(n *nodev1.Node, now time.Time) {
	if n.Spec == nil {
		n.Spec = &nodev1.NodeSpec{}
	}
	has := -1
	for i, t := range n.Spec.Taints {
		if t.GetKey() == scheduler.TaintNodeUnschedulable && t.GetEffect() == scheduler.EffectNoSchedule {
			has = i
		}
		if t.GetEffect() == scheduler.EffectNoExecute && t.TimeAdded == nil {
			t.TimeAdded = timestamppb.New(now.Truncate(time.Second))
		}
	}
	switch {
	case n.Spec.Unschedulable && has < 0:
		n.Spec.Taints = append(n.Spec.Taints, &corev1.Taint{Key: scheduler.TaintNodeUnschedulable, Effect: scheduler.EffectNoSchedule,
			TimeAdded: timestamppb.New(now.Truncate(time.Second))})
	case !n.Spec.Unschedulable && has >= 0:
		n.Spec.Taints = append(n.Spec.Taints[:has], n.Spec.Taints[has+1:]...)
	}
}

// Free is what the plan gives a node added to nodes: the first podCIDR that
// overlaps no node's, the first InternalIP no node has (nodes keep what an
// earlier plan gave them), and the fleet index of that podCIDR. A full plan
// is an error (ipam.ErrPlanFull) naming the setting to change.
func Free(plan ipam.Plan, nodes []*nodev1.Node) (Addresses, int, error) {
	cidrs := make([]string, 0, len(nodes))
	ips := make([]string, 0, len(nodes))
	for _, n := range nodes {
		cidrs = append(cidrs, n.GetSpec().GetPodCidrs()...)
		if c := n.GetSpec().GetPodCidr(); c != "" {
			cidrs = append(cidrs, c)
		}
		if ip := InternalIP(n); ip != "" {
			ips = append(ips, ip)
		}
	}
	i, err := plan.FreePodCIDR(cidrs)
	if err != nil {
		return Addresses{}, 0, err
	}
	j, err := plan.FreeNodeIP(ips)
	if err != nil {
		return Addresses{}, 0, err
	}
	return Addresses{PodCIDR: plan.PodCIDR(i), InternalIP: plan.NodeIP(j)}, i, nil
}

// InternalIP is the node's InternalIP address ("" when it has none).
func InternalIP(n *nodev1.Node) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == "InternalIP" {
			return a.GetAddress()
		}
	}
	return ""
}
