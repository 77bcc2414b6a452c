package service_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/services/node/service"
	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// TestCommandedPodsRunSpreadAndDelete: 20 pods of a ReplicaSet become Running
// and Ready on worker nodes with unique IPs; a repeated create changes nothing;
// a delete publishes DELETED and a late create does not bring the pod back.
func TestCommandedPodsRunSpreadAndDelete(t *testing.T) {
	e := newEnv(t, nil)
	var pods []*corev1.Pod
	for i := range 20 {
		p := rsPod(fmt.Sprintf("web-abc-%02d", i))
		pods = append(pods, p)
		e.command(eventsv1.PodCommand_OP_CREATE, p, nil)
	}
	ips := map[string]string{}
	perNode := map[string]int{}
	for _, p := range pods {
		ev := e.waitEvent(p.Metadata.Uid, p.Metadata.Name+" running and ready", runningReady)
		got := ev.GetPod()
		node, ip := got.GetSpec().GetNodeName(), got.GetStatus().GetPodIp()
		if node == "" || node == "control-plane" {
			t.Errorf("%s on node %q", p.Metadata.Name, node)
		}
		if other, dup := ips[ip]; dup || ip == "" {
			t.Errorf("%s has IP %q, also held by %q", p.Metadata.Name, ip, other)
		}
		ips[ip] = p.Metadata.Name
		perNode[node]++
		if got.GetStatus().GetHostIp() == "" || got.GetStatus().GetStartTime() == nil {
			t.Errorf("%s: hostIP %q startTime %v", p.Metadata.Name, got.GetStatus().GetHostIp(), got.GetStatus().GetStartTime())
		}
	}
	if perNode["node-1"] != 10 || perNode["node-2"] != 10 {
		t.Errorf("spread = %v, want 10 per worker", perNode)
	}
	if e.podEvts.count("pods.events.ReplicaSet") == 0 || e.podEvts.count("pods.events.none") != 0 {
		t.Errorf("events on ReplicaSet subject %d, on none %d", e.podEvts.count("pods.events.ReplicaSet"), e.podEvts.count("pods.events.none"))
	}

	// The same create again: still one pod, untouched.
	before, err := e.pods.GetPod(e.ctx(), &nodev1.GetPodRequest{Namespace: "default", Name: pods[1].Metadata.Name})
	if err != nil {
		t.Fatal(err)
	}
	e.command(eventsv1.PodCommand_OP_CREATE, pods[1], nil)

	// Delete: graceful, then gone with a DELETED event.
	e.command(eventsv1.PodCommand_OP_DELETE, pods[0], nil)
	e.waitEvent(pods[0].Metadata.Uid, "pod 0 DELETED", deleted)

	// A late create of the deleted pod is ignored; a barrier pod proves the commands were handled.
	e.command(eventsv1.PodCommand_OP_CREATE, pods[0], nil)
	barrier := rsPod("web-abc-barrier")
	e.command(eventsv1.PodCommand_OP_CREATE, barrier, nil)
	e.waitEvent(barrier.Metadata.Uid, "barrier running", runningReady)
	list, err := e.pods.ListPods(e.ctx(), &nodev1.ListPodsRequest{Namespace: "default", LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 20 {
		t.Errorf("%d pods listed, want 20 (19 + barrier)", len(list.Items))
	}
	for _, p := range list.Items {
		if p.Metadata.Name == pods[0].Metadata.Name {
			t.Errorf("deleted pod came back")
		}
	}
	after, err := e.pods.GetPod(e.ctx(), &nodev1.GetPodRequest{Namespace: "default", Name: pods[1].Metadata.Name})
	if err != nil {
		t.Fatal(err)
	}
	if after.Pod.Metadata.ResourceVersion != before.Pod.Metadata.ResourceVersion {
		t.Errorf("repeated create changed the pod: rv %s -> %s", before.Pod.Metadata.ResourceVersion, after.Pod.Metadata.ResourceVersion)
	}
}

// TestNameTakenReportsDeleted: a create for a name held by another pod is
// answered with DELETED for the commanded uid, so the owner replaces it.
func TestNameTakenReportsDeleted(t *testing.T) {
	e := newEnv(t, nil)
	first := rsPod("web-abc-x")
	e.command(eventsv1.PodCommand_OP_CREATE, first, nil)
	e.waitEvent(first.Metadata.Uid, "first pod running", runningReady)
	second := rsPod("web-abc-x")
	second.Metadata.Uid = "uid-other"
	e.command(eventsv1.PodCommand_OP_CREATE, second, nil)
	e.waitEvent(second.Metadata.Uid, "second pod reported deleted", deleted)
	got, err := e.pods.GetPod(e.ctx(), &nodev1.GetPodRequest{Namespace: "default", Name: "web-abc-x"})
	if err != nil || got.Pod.Metadata.Uid != first.Metadata.Uid {
		t.Errorf("GetPod = %v, %v; want the first pod", got, err)
	}
}

// TestNodeDeletionDeletesItsPods: deleting a node deletes its pods (DELETED
// events for their owners), and new pods avoid it.
func TestNodeDeletionDeletesItsPods(t *testing.T) {
	e := newEnv(t, nil)
	var pods []*corev1.Pod
	for i := range 6 {
		p := rsPod(fmt.Sprintf("web-abc-%d", i))
		pods = append(pods, p)
		e.command(eventsv1.PodCommand_OP_CREATE, p, nil)
	}
	onNode2 := map[string]bool{}
	for _, p := range pods {
		ev := e.waitEvent(p.Metadata.Uid, "running", runningReady)
		if ev.GetPod().GetSpec().GetNodeName() == "node-2" {
			onNode2[p.Metadata.Uid] = true
		}
	}
	if len(onNode2) == 0 {
		t.Fatal("no pod on node-2")
	}
	if _, err := e.nodes.DeleteNode(e.ctx(), &nodev1.DeleteNodeRequest{Name: "node-2"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		ev := e.podEvts.get(p.Metadata.Uid)
		if onNode2[p.Metadata.Uid] {
			e.waitEvent(p.Metadata.Uid, p.Metadata.Name+" deleted with its node", deleted)
		} else if deleted(ev) {
			t.Errorf("%s on another node was deleted", p.Metadata.Name)
		}
	}
	repl := rsPod("web-abc-new")
	e.command(eventsv1.PodCommand_OP_CREATE, repl, nil)
	if ev := e.waitEvent(repl.Metadata.Uid, "replacement running", runningReady); ev.GetPod().GetSpec().GetNodeName() != "node-1" {
		t.Errorf("replacement on %q, want node-1", ev.GetPod().GetSpec().GetNodeName())
	}
}

// TestUnschedulableUntilLabelled: a nodeSelector nobody matches leaves the pod
// Pending/Unschedulable with the scheduler's message; labelling a node schedules it.
func TestUnschedulableUntilLabelled(t *testing.T) {
	e := newEnv(t, nil)
	p := rsPod("picky")
	p.Spec.NodeSelector = map[string]string{"disktype": "ssd"}
	e.command(eventsv1.PodCommand_OP_CREATE, p, nil)
	const want = "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	ev := e.waitEvent(p.Metadata.Uid, "unschedulable condition", func(ev *eventsv1.PodEvent) bool {
		for _, c := range ev.GetPod().GetStatus().GetConditions() {
			if c.GetType() == "PodScheduled" && c.GetStatus() == "False" && c.GetReason() == "Unschedulable" {
				return true
			}
		}
		return false
	})
	for _, c := range ev.GetPod().GetStatus().GetConditions() {
		if c.GetType() == "PodScheduled" && c.GetMessage() != want {
			t.Errorf("message = %q\nwant      %q", c.GetMessage(), want)
		}
	}
	if ph := ev.GetPod().GetStatus().GetPhase(); ph != "Pending" {
		t.Errorf("phase = %s", ph)
	}
	evs, err := e.events.ListEvents(e.ctx(), &corev1.ListEventsRequest{Namespace: "default", FieldSelector: "involvedObject.name=picky,reason=FailedScheduling"})
	if err != nil || len(evs.Items) != 1 || evs.Items[0].Message != want {
		t.Errorf("FailedScheduling events = %v, %v", evs.GetItems(), err)
	}

	// kubectl label nodes node-2 disktype=ssd: GET, add the label, PUT.
	n, err := e.nodes.GetNode(e.ctx(), &nodev1.GetNodeRequest{Name: "node-2"})
	if err != nil {
		t.Fatal(err)
	}
	n.Node.Metadata.Labels["disktype"] = "ssd"
	if _, err := e.nodes.UpdateNode(e.ctx(), &nodev1.UpdateNodeRequest{Name: "node-2", Node: n.Node}); err != nil {
		t.Fatal(err)
	}
	ev = e.waitEvent(p.Metadata.Uid, "scheduled after labelling", runningReady)
	if node := ev.GetPod().GetSpec().GetNodeName(); node != "node-2" {
		t.Errorf("scheduled on %q, want node-2", node)
	}
}

// TestRestartConverges: the service stops in the middle of creating pods and
// starts again on the same database; every pod ends Running and Ready once,
// with unique IPs.
func TestRestartConverges(t *testing.T) {
	e := newEnv(t, func(c *service.Config) { c.StartDelay = 300 * time.Millisecond })
	var pods []*corev1.Pod
	for i := range 10 {
		p := rsPod(fmt.Sprintf("web-abc-%d", i))
		pods = append(pods, p)
		e.command(eventsv1.PodCommand_OP_CREATE, p, nil)
	}
	e.waitEvent(pods[0].Metadata.Uid, "first pod scheduled", func(ev *eventsv1.PodEvent) bool { return ev.GetPod().GetSpec().GetNodeName() != "" })
	e.restart()
	for i := 10; i < 15; i++ {
		p := rsPod(fmt.Sprintf("web-abc-%d", i))
		pods = append(pods, p)
		e.command(eventsv1.PodCommand_OP_CREATE, p, nil)
	}
	ips := map[string]bool{}
	for _, p := range pods {
		ev := e.waitEvent(p.Metadata.Uid, p.Metadata.Name+" running after restart", runningReady)
		ip := ev.GetPod().GetStatus().GetPodIp()
		if ips[ip] {
			t.Errorf("duplicate IP %s", ip)
		}
		ips[ip] = true
	}
	testenv.Eventually(t, 10*time.Second, "15 pods listed", func() bool {
		l, err := e.pods.ListPods(e.ctx(), &nodev1.ListPodsRequest{})
		return err == nil && len(l.Items) == 15
	})
}

// TestUpdateCommandOrphansAndAdopts: UPDATE replaces ownerReferences and
// labels; the former owner's subject hears about it too.
func TestUpdateCommandOrphansAndAdopts(t *testing.T) {
	e := newEnv(t, nil)
	p := rsPod("web-abc-1")
	e.command(eventsv1.PodCommand_OP_CREATE, p, nil)
	e.waitEvent(p.Metadata.Uid, "running", runningReady)
	before := e.podEvts.count("pods.events.ReplicaSet")
	orphan := proto.Clone(p).(*corev1.Pod)
	orphan.Metadata.OwnerReferences = nil
	orphan.Metadata.Labels = map[string]string{"app": "web", "debug": "true"}
	e.command(eventsv1.PodCommand_OP_UPDATE, orphan, nil)
	ev := e.waitEvent(p.Metadata.Uid, "orphaned", func(ev *eventsv1.PodEvent) bool {
		return len(ev.GetPod().GetMetadata().GetOwnerReferences()) == 0
	})
	if ev.GetPod().GetMetadata().GetLabels()["debug"] != "true" || !runningReady(ev) {
		t.Errorf("orphaned pod = %v", ev.GetPod())
	}
	testenv.Eventually(t, 10*time.Second, "former owner told", func() bool {
		return e.podEvts.count("pods.events.ReplicaSet") > before && e.podEvts.count("pods.events.none") > 0
	})
}

// TestDeleteBeforeCreate: a delete for a pod never created is answered with
// DELETED, and the create arriving later does not resurrect it.
func TestDeleteBeforeCreate(t *testing.T) {
	e := newEnv(t, nil)
	p := rsPod("web-abc-ghost")
	e.command(eventsv1.PodCommand_OP_DELETE, p, nil)
	e.waitEvent(p.Metadata.Uid, "DELETED for a pod never seen", deleted)
	e.command(eventsv1.PodCommand_OP_CREATE, p, nil)
	barrier := rsPod("web-abc-barrier")
	e.command(eventsv1.PodCommand_OP_CREATE, barrier, nil)
	e.waitEvent(barrier.Metadata.Uid, "barrier running", runningReady)
	if _, err := e.pods.GetPod(e.ctx(), &nodev1.GetPodRequest{Namespace: "default", Name: p.Metadata.Name}); status.Code(err) != codes.NotFound {
		t.Errorf("ghost pod exists: %v", err)
	}
}

// TestWatchPods streams what exists, then changes.
func TestWatchPods(t *testing.T) {
	e := newEnv(t, nil)
	p := rsPod("web-abc-1")
	e.command(eventsv1.PodCommand_OP_CREATE, p, nil)
	e.waitEvent(p.Metadata.Uid, "running", runningReady)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := e.pods.WatchPods(ctx, &nodev1.WatchPodsRequest{Namespace: "default", LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.Type != "ADDED" || first.Object.Metadata.Name != "web-abc-1" {
		t.Fatalf("first watch event = %v, %v", first, err)
	}
	e.command(eventsv1.PodCommand_OP_DELETE, p, nil)
	for {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "DELETED" {
			if ev.Object.Metadata.DeletionTimestamp == nil {
				t.Errorf("DELETED pod without deletionTimestamp")
			}
			break
		}
	}
}

// TestABacklogKeepsDeletionsBeforeLaterCreations: commands that piled up while the
// node service was down (one batch when it is back) are applied in the stream's
// order across pods: a pod's deletion followed by another pod's creation (a rolling
// update's scale-down, then its scale-up) is in the change log, and so in every watch,
// before that creation. Applied in parallel transactions, the creation came first
// when the deletion's transaction had more to do: one live pod more than maxSurge
// for a moment (the chaos harness's seed 58).
func TestABacklogKeepsDeletionsBeforeLaterCreations(t *testing.T) {
	e := newEnv(t, nil)
	old := rsPod("web-old")
	e.command(eventsv1.PodCommand_OP_CREATE, old, nil)
	e.waitEvent(old.Metadata.Uid, "the old pod running", runningReady)
	e.shutdown()

	// The batch: 40 creations about pods that share the old pod's transaction (the
	// same hash of namespace/name over the node's 4 parallel transactions), the old
	// pod's deletion, then the replacement's creation, alone in another transaction.
	part := func(name string) uint32 {
		h := fnv.New32a()
		h.Write([]byte("default/" + name))
		return h.Sum32() % 4
	}
	for i, n := 0, 0; n < 40; i++ {
		if name := fmt.Sprintf("web-other-%d", i); part(name) == part(old.Metadata.Name) {
			e.command(eventsv1.PodCommand_OP_CREATE, rsPod(name), nil)
			n++
		}
	}
	grace := int64(30)
	e.command(eventsv1.PodCommand_OP_DELETE, old, &grace)
	repl := rsPod("web-new-0")
	for i := 1; part(repl.Metadata.Name) == part(old.Metadata.Name); i++ {
		repl = rsPod(fmt.Sprintf("web-new-%d", i))
	}
	e.command(eventsv1.PodCommand_OP_CREATE, repl, nil)
	e.start()
	e.waitEvent(repl.Metadata.Uid, "the replacement running", runningReady)

	// The change log: the old pod's first change marked deleted, the replacement's first.
	conn, err := pgx.Connect(e.ctx(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	first := func(name string, deleting bool) int64 {
		rows, err := conn.Query(e.ctx(), `SELECT resource_version, type, data FROM node.changes WHERE kind = 'Pod' AND namespace = 'default' AND name = $1 ORDER BY resource_version`, name)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var rv int64
			var typ string
			var data []byte
			if err := rows.Scan(&rv, &typ, &data); err != nil {
				t.Fatal(err)
			}
			p := &corev1.Pod{}
			if err := proto.Unmarshal(data, p); err != nil {
				t.Fatal(err)
			}
			if !deleting || p.GetMetadata().GetDeletionTimestamp() != nil || strings.EqualFold(typ, "DELETED") {
				return rv
			}
		}
		t.Fatalf("no change of %s in the log (deleting: %v)", name, deleting)
		return 0
	}
	if del, add := first(old.Metadata.Name, true), first(repl.Metadata.Name, false); del > add {
		t.Errorf("the old pod's deletion is at resourceVersion %d, after the replacement's creation at %d: a watch sees both pods live", del, add)
	}
}
