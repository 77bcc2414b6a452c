package service_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/node/service"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func barePod(name string) *corev1.Pod {
	return &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &corev1.ObjectMeta{Name: name, Labels: map[string]string{"run": name}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx"}}},
	}
}

func (e *env) waitPod(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	e.t.Helper()
	var p *corev1.Pod
	testenv.Eventually(e.t, 20*time.Second, what, func() bool {
		got, err := e.pods.GetPod(e.ctx(), &nodev1.GetPodRequest{Namespace: "default", Name: name})
		if err != nil {
			return false
		}
		p = got.Pod
		return cond(p)
	})
	return p
}

func podRunningReady(p *corev1.Pod) bool {
	return p.GetStatus().GetPhase() == "Running" && podutil.IsPodReady(p)
}

func TestBarePodAPI(t *testing.T) {
	e := newEnv(t, func(c *service.Config) { c.TerminationDelay = 200 * time.Millisecond })
	created, err := e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: barePod("nginx")})
	if err != nil {
		t.Fatal(err)
	}
	if p := created.Pod; p.Metadata.Uid == "" || p.Spec.RestartPolicy != "Always" || p.Spec.Containers[0].ImagePullPolicy != "Always" || p.Status.Phase != "Pending" {
		t.Errorf("created pod not defaulted: %v", p)
	}
	p := e.waitPod("nginx", "bare pod running", podRunningReady)
	// The event goes out through the outbox after the write the API read shows: wait for it.
	testenv.Eventually(t, 10*time.Second, "an event on pods.events.none", func() bool {
		return e.podEvts.get(p.Metadata.Uid) != nil && e.podEvts.count("pods.events.none") > 0
	})

	// Field selectors.
	for sel, want := range map[string]int{
		"spec.nodeName=" + p.Spec.NodeName:         1,
		"spec.nodeName=control-plane":              0,
		"status.phase=Running":                     1,
		"status.phase!=Running":                    0,
		"metadata.name=nginx":                      1,
		"metadata.namespace=default":               1,
		"metadata.name=nginx,status.phase!=Failed": 1,
	} {
		l, err := e.pods.ListPods(e.ctx(), &nodev1.ListPodsRequest{FieldSelector: sel})
		if err != nil || len(l.Items) != want {
			t.Errorf("fieldSelector %q: %d items, %v; want %d", sel, len(l.GetItems()), err, want)
		}
	}

	// Events of the pod, Kubernetes-style.
	evs, err := e.events.ListEvents(e.ctx(), &corev1.ListEventsRequest{Namespace: "default", FieldSelector: "involvedObject.name=nginx,involvedObject.kind=Pod"})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, ev := range evs.Items {
		reasons[ev.Reason] = ev.Message
	}
	if reasons["Scheduled"] != "Successfully assigned default/nginx to "+p.Spec.NodeName || reasons["Started"] != "Started container nginx" || reasons["Pulling"] == "" {
		t.Errorf("events = %v", reasons)
	}

	// Update: labels and image allowed, ports not.
	upd := proto.Clone(p).(*corev1.Pod)
	upd.Metadata.Labels["tier"] = "web"
	upd.Spec.Containers[0].Image = "nginx:1.28"
	if _, err := e.pods.UpdatePod(e.ctx(), &nodev1.UpdatePodRequest{Namespace: "default", Name: "nginx", Pod: upd}); err != nil {
		t.Fatalf("allowed update: %v", err)
	}
	e.waitPod("nginx", "container restarted with the new image", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		return len(cs) == 1 && cs[0].Image == "nginx:1.28" && cs[0].RestartCount == 1 && podRunningReady(p)
	})
	bad := proto.Clone(p).(*corev1.Pod)
	bad.Metadata.ResourceVersion = ""
	bad.Spec.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 80}}
	_, err = e.pods.UpdatePod(e.ctx(), &nodev1.UpdatePodRequest{Namespace: "default", Name: "nginx", Pod: bad})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `Pod "nginx" is invalid: spec: Forbidden: pod updates may not change fields other than`) {
		t.Errorf("forbidden update: %v", err)
	}
	stale := proto.Clone(p).(*corev1.Pod)
	if _, err := e.pods.UpdatePod(e.ctx(), &nodev1.UpdatePodRequest{Namespace: "default", Name: "nginx", Pod: stale}); status.Code(err) != codes.Aborted {
		t.Errorf("stale update: %v, want Aborted (Conflict)", err)
	}

	// Invalid create.
	inv := barePod("Bad_Name")
	inv.Spec.Containers[0].Image = ""
	_, err = e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: inv})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "metadata.name") || !strings.Contains(err.Error(), "spec.containers[0].image") {
		t.Errorf("invalid create: %v", err)
	}
	if _, err := e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: barePod("nginx")}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("duplicate create: %v", err)
	}

	// Graceful delete: the pod comes back Terminating, then goes.
	del, err := e.pods.DeletePod(e.ctx(), &nodev1.DeletePodRequest{Namespace: "default", Name: "nginx"})
	if err != nil {
		t.Fatal(err)
	}
	if del.Pod.Metadata.DeletionTimestamp == nil || del.Pod.Metadata.GetDeletionGracePeriodSeconds() != 30 {
		t.Errorf("deleted pod: deletionTimestamp %v grace %v", del.Pod.Metadata.DeletionTimestamp, del.Pod.Metadata.DeletionGracePeriodSeconds)
	}
	testenv.Eventually(t, 10*time.Second, "pod gone", func() bool {
		_, err := e.pods.GetPod(e.ctx(), &nodev1.GetPodRequest{Namespace: "default", Name: "nginx"})
		return status.Code(err) == codes.NotFound
	})
	e.waitEvent(p.Metadata.Uid, "DELETED published", deleted)
	_, err = e.pods.GetPod(e.ctx(), &nodev1.GetPodRequest{Namespace: "default", Name: "nginx"})
	if err == nil || err.Error() != `rpc error: code = NotFound desc = pods "nginx" not found` {
		t.Errorf("get deleted pod: %v", err)
	}
}

func TestFaultInjection(t *testing.T) {
	e := newEnv(t, nil)
	for _, name := range []string{"crashy", "failing", "flaky"} {
		if _, err := e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: barePod(name)}); err != nil {
			t.Fatal(err)
		}
		e.waitPod(name, name+" running", podRunningReady)
	}
	fault := func(name, f string) {
		t.Helper()
		if _, err := e.pods.InjectPodFault(e.ctx(), &nodev1.InjectPodFaultRequest{Namespace: "default", Name: name, Fault: f}); err != nil {
			t.Fatalf("fault %s on %s: %v", f, name, err)
		}
	}
	fault("crashy", "crash")
	e.waitPod("crashy", "restarted after the crash", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()[0]
		return cs.RestartCount == 1 && cs.GetLastState().GetTerminated().GetExitCode() == 1 && podRunningReady(p)
	})
	fault("failing", "fail")
	e.waitPod("failing", "failed", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Failed" })
	fault("flaky", "unready")
	e.waitPod("flaky", "unready", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Running" && !podutil.IsPodReady(p) })
	fault("flaky", "ready")
	e.waitPod("flaky", "ready again", podRunningReady)
	if _, err := e.pods.InjectPodFault(e.ctx(), &nodev1.InjectPodFaultRequest{Namespace: "default", Name: "flaky", Fault: "explode"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("unknown fault: %v", err)
	}
}

func TestJobLikeContainers(t *testing.T) {
	e := newEnv(t, nil)
	mk := func(name, policy, code string) {
		p := barePod(name)
		p.Spec.RestartPolicy = policy
		p.Spec.Containers[0].Command = []string{"sh", "-c", "exit " + code}
		p.Metadata.Annotations = map[string]string{"sim.podwarden.io/exit-code": code, "sim.podwarden.io/duration": "100ms"}
		if _, err := e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: p}); err != nil {
			t.Fatal(err)
		}
	}
	mk("ok", "Never", "0")
	mk("ko", "Never", "3")
	mk("retry", "OnFailure", "1")
	e.waitPod("ok", "succeeded", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Succeeded" })
	p := e.waitPod("ko", "failed", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Failed" })
	if code := p.Status.ContainerStatuses[0].GetState().GetTerminated().GetExitCode(); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	e.waitPod("retry", "restarted in place", func(p *corev1.Pod) bool {
		return p.GetStatus().GetPhase() == "Running" && p.Status.ContainerStatuses[0].RestartCount >= 2
	})
	// A terminal pod's IP is free again; its row stays until deleted.
	l, err := e.pods.ListPods(e.ctx(), &nodev1.ListPodsRequest{Namespace: "default", FieldSelector: "status.phase!=Running"})
	if err != nil || len(l.Items) != 2 {
		t.Errorf("status.phase!=Running: %d items, %v", len(l.GetItems()), err)
	}
}

func TestNodeAPI(t *testing.T) {
	e := newEnv(t, nil)
	l, err := e.nodes.ListNodes(e.ctx(), &nodev1.ListNodesRequest{})
	if err != nil || len(l.Items) != 3 {
		t.Fatalf("ListNodes = %v, %v", l, err)
	}
	cp := l.Items[0]
	if cp.Metadata.Name != "control-plane" || cp.Spec.Taints[0].Key != "node-role.kubernetes.io/control-plane" || cp.Status.Capacity["cpu"].GetStringValue() != "4" {
		t.Errorf("control-plane = %v", cp)
	}
	if l, _ := e.nodes.ListNodes(e.ctx(), &nodev1.ListNodesRequest{LabelSelector: "!node-role.kubernetes.io/control-plane"}); len(l.GetItems()) != 2 {
		t.Errorf("workers by label: %d", len(l.GetItems()))
	}

	// Create a node: registered with defaults, next podCIDR.
	created, err := e.nodes.CreateNode(e.ctx(), &nodev1.CreateNodeRequest{Node: &nodev1.Node{ApiVersion: "v1", Kind: "Node", Metadata: &corev1.ObjectMeta{Name: "node-3"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := created.Node; n.Spec.PodCidr != "10.244.3.0/24" || n.Metadata.Labels["kubernetes.io/hostname"] != "node-3" || n.Status.Allocatable["pods"].GetStringValue() != "110" {
		t.Errorf("created node = %v", n)
	}
	_, err = e.nodes.CreateNode(e.ctx(), &nodev1.CreateNodeRequest{Node: &nodev1.Node{Metadata: &corev1.ObjectMeta{Name: "bad"},
		Spec: &nodev1.NodeSpec{Taints: []*corev1.Taint{{Key: "k", Effect: "Sometimes"}}}}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.taints[0].effect") {
		t.Errorf("bad taint: %v", err)
	}

	// kubectl taint nodes node-1 dedicated=db:NoSchedule, then remove it.
	taint := func(add bool) {
		n, err := e.nodes.GetNode(e.ctx(), &nodev1.GetNodeRequest{Name: "node-1"})
		if err != nil {
			t.Fatal(err)
		}
		if add {
			n.Node.Spec.Taints = append(n.Node.Spec.Taints, &corev1.Taint{Key: "dedicated", Value: "db", Effect: "NoSchedule"})
		} else {
			n.Node.Spec.Taints = nil
		}
		if _, err := e.nodes.UpdateNode(e.ctx(), &nodev1.UpdateNodeRequest{Name: "node-1", Node: n.Node}); err != nil {
			t.Fatal(err)
		}
	}
	taint(true)
	// Cordon node-3 and node-2 stays: a new pod lands on node-2.
	n3, _ := e.nodes.GetNode(e.ctx(), &nodev1.GetNodeRequest{Name: "node-3"})
	n3.Node.Spec.Unschedulable = true
	if got, err := e.nodes.UpdateNode(e.ctx(), &nodev1.UpdateNodeRequest{Name: "node-3", Node: n3.Node}); err != nil || len(got.Node.Spec.Taints) != 1 {
		t.Fatalf("cordon: %v %v", got, err)
	}
	if _, err := e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: barePod("a")}); err != nil {
		t.Fatal(err)
	}
	if p := e.waitPod("a", "a running", podRunningReady); p.Spec.NodeName != "node-2" {
		t.Errorf("a on %s, want node-2", p.Spec.NodeName)
	}
	// A stale update conflicts.
	stale := proto.Clone(n3.Node).(*nodev1.Node)
	if _, err := e.nodes.UpdateNode(e.ctx(), &nodev1.UpdateNodeRequest{Name: "node-3", Node: stale}); status.Code(err) != codes.Aborted {
		t.Errorf("stale node update: %v", err)
	}

	// node-2 stops posting status: its pod turns unready; back, ready again.
	nr, err := e.nodes.SetNodeReady(e.ctx(), &nodev1.SetNodeReadyRequest{Name: "node-2", Ready: false})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range nr.Node.Status.Conditions {
		if c.Type == "Ready" && (c.Status != "Unknown" || c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status.") {
			t.Errorf("Ready condition = %v", c)
		}
	}
	e.waitPod("a", "unready on a dead node", func(p *corev1.Pod) bool { return p.Status.Phase == "Running" && !podutil.IsPodReady(p) })
	if _, err := e.pods.CreatePod(e.ctx(), &nodev1.CreatePodRequest{Namespace: "default", Pod: barePod("b")}); err != nil {
		t.Fatal(err)
	}
	e.waitPod("b", "b unschedulable", func(p *corev1.Pod) bool {
		for _, c := range p.GetStatus().GetConditions() {
			if c.Type == "PodScheduled" && c.Reason == "Unschedulable" {
				return strings.HasPrefix(c.Message, "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable.")
			}
		}
		return false
	})
	if _, err := e.nodes.SetNodeReady(e.ctx(), &nodev1.SetNodeReadyRequest{Name: "node-2", Ready: true}); err != nil {
		t.Fatal(err)
	}
	e.waitPod("a", "ready again", podRunningReady)
	e.waitPod("b", "b scheduled once node-2 is back", podRunningReady)
	taint(false)

	// Node events were published.
	if _, err := e.nodes.DeleteNode(e.ctx(), &nodev1.DeleteNodeRequest{Name: "node-3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.nodes.GetNode(e.ctx(), &nodev1.GetNodeRequest{Name: "node-3"}); status.Code(err) != codes.NotFound {
		t.Errorf("deleted node: %v", err)
	}
	_ = eventsv1.NodeEvent_TYPE_DELETED
}
