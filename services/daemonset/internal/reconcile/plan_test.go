package reconcile

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func deleted(p *corev1.Pod) *corev1.Pod {
	p.Metadata.DeletionTimestamp = timestamppb.New(t0)
	return p
}

func phase(p *corev1.Pod, ph string) *corev1.Pod {
	p.Status.Phase = ph
	return p
}

func unbound(p *corev1.Pod, target string) *corev1.Pod {
	p.Spec.NodeName = ""
	p.Spec.Affinity = replaceNodeNameAffinity(nil, target)
	return p
}

func TestPlanSyncManage(t *testing.T) {
	three := []*nodev1.Node{node("n1", nil), node("n2", nil), node("n3", nil)}
	cases := map[string]struct {
		ds         *daemonsetv1.DaemonSet
		nodes      []*nodev1.Node
		pods       []*corev1.Pod
		wantCreate []string
		wantDelete []string
		wantEvents int
	}{
		"a pod on every node":   {ds: daemonSet(), nodes: three, wantCreate: []string{"n1", "n2", "n3"}},
		"only the missing node": {ds: daemonSet(), nodes: three, pods: []*corev1.Pod{pod("a", "n1", "h1", true), pod("b", "n3", "h1", true)}, wantCreate: []string{"n2"}},
		"unbound pod counts for its node": {ds: daemonSet(), nodes: three,
			pods: []*corev1.Pod{unbound(pod("a", "n1", "h1", false), "n1"), pod("b", "n2", "h1", true), pod("c", "n3", "h1", true)}},
		"terminating pod blocks its replacement": {ds: daemonSet(), nodes: three,
			pods: []*corev1.Pod{deleted(pod("a", "n1", "h1", true)), pod("b", "n2", "h1", true), pod("c", "n3", "h1", true)}},
		"node no longer selected": {ds: daemonSet(withNodeSelector(map[string]string{"disktype": "ssd"})),
			nodes: []*nodev1.Node{node("n1", map[string]string{"disktype": "ssd"}), node("n2", nil)},
			pods:  []*corev1.Pod{pod("a", "n1", "h1", true), pod("b", "n2", "h1", true)}, wantDelete: []string{"b"}},
		"NoExecute taint evicts": {ds: daemonSet(), nodes: []*nodev1.Node{node("n1", nil), node("n2", nil, taint("maintenance", "true", EffectNoExecute))},
			pods: []*corev1.Pod{pod("a", "n1", "h1", true), pod("b", "n2", "h1", true)}, wantDelete: []string{"b"}},
		"NoSchedule taint keeps a running pod but creates none": {ds: daemonSet(),
			nodes: []*nodev1.Node{node("n1", nil, taint("dedicated", "x", EffectNoSchedule)), node("n2", nil, taint("dedicated", "x", EffectNoSchedule))},
			pods:  []*corev1.Pod{pod("a", "n1", "h1", true)}},
		"extra pods on a node: the oldest stays": {ds: daemonSet(), nodes: []*nodev1.Node{node("n1", nil)},
			pods: []*corev1.Pod{pod("b", "n1", "h1", true), pod("a", "n1", "h1", true)}, wantDelete: []string{"b"}},
		"failed pod is deleted with an event": {ds: daemonSet(), nodes: []*nodev1.Node{node("n1", nil)},
			pods: []*corev1.Pod{phase(pod("a", "n1", "h1", false), "Failed")}, wantDelete: []string{"a"}, wantEvents: 1},
		"succeeded pod is deleted": {ds: daemonSet(), nodes: []*nodev1.Node{node("n1", nil)},
			pods: []*corev1.Pod{phase(pod("a", "n1", "h1", false), "Succeeded")}, wantDelete: []string{"a"}},
		"unbound pod of a removed node": {ds: daemonSet(), nodes: []*nodev1.Node{node("n1", nil)},
			pods: []*corev1.Pod{pod("a", "n1", "h1", true), unbound(pod("b", "", "h1", false), "gone")}, wantDelete: []string{"b"}},
		"no nodes, nothing": {ds: daemonSet()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			plan := PlanSync(tc.ds, tc.nodes, tc.pods, "h1", t0)
			if !slices.Equal(plan.CreateOn, tc.wantCreate) {
				t.Errorf("create on %v, want %v", plan.CreateOn, tc.wantCreate)
			}
			if got := names(plan.Delete); !slices.Equal(got, tc.wantDelete) {
				t.Errorf("delete %v, want %v", got, tc.wantDelete)
			}
			// The plan carries the pods it creates, built for their nodes, and
			// SuccessfulCreate/SuccessfulDelete for each, before its other events.
			var wantPodEvents []Event
			for i, p := range plan.Create {
				if got := p.GetSpec().GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution().GetNodeSelectorTerms()[0].GetMatchFields()[0].GetValues(); !slices.Equal(got, []string{tc.wantCreate[i]}) {
					t.Errorf("pod %d is for node %v, want %s", i, got, tc.wantCreate[i])
				}
				wantPodEvents = append(wantPodEvents, Event{Type: "Normal", Reason: ReasonSuccessfulCreate, Message: "Created pod: " + p.Metadata.Name})
			}
			if len(plan.Create) != len(tc.wantCreate) {
				t.Errorf("%d pods to create, want %d", len(plan.Create), len(tc.wantCreate))
			}
			for _, name := range tc.wantDelete {
				wantPodEvents = append(wantPodEvents, Event{Type: "Normal", Reason: ReasonSuccessfulDelete, Message: "Deleted pod: " + name})
			}
			n := len(wantPodEvents)
			if len(plan.Events) < n || !slices.Equal(plan.Events[:n], wantPodEvents) {
				t.Fatalf("events %v, want first %v", plan.Events, wantPodEvents)
			}
			if len(plan.Events)-n != tc.wantEvents {
				t.Errorf("other events %v, want %d", plan.Events[n:], tc.wantEvents)
			}
		})
	}
}

func TestPlanSelectingAll(t *testing.T) {
	ds := daemonSet()
	if SelectsAll(ds) {
		t.Fatal("daemonSet() selects all")
	}
	ds.Spec.Selector = &corev1.LabelSelector{}
	if !SelectsAll(ds) {
		t.Fatal("an empty selector does not select all")
	}
	if p := PlanSelectingAll(); len(p.Events) != 1 || p.Events[0].Reason != ReasonSelectingAll || p.Events[0].Type != "Warning" {
		t.Fatalf("plan %+v", p)
	}
}

func TestRollingUpdateSteps(t *testing.T) {
	four := []*nodev1.Node{node("n1", nil), node("n2", nil), node("n3", nil), node("n4", nil)}
	cases := map[string]struct {
		ds         *daemonsetv1.DaemonSet
		nodes      []*nodev1.Node
		pods       []*corev1.Pod
		wantCreate []string
		wantDelete []string
	}{
		"maxUnavailable 1: one old pod goes": {ds: daemonSet(), nodes: four,
			pods:       []*corev1.Pod{pod("a", "n1", "old", true), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantDelete: []string{"a"}},
		"maxUnavailable 1: waits while a new pod is not ready": {ds: daemonSet(), nodes: four,
			pods: []*corev1.Pod{pod("a", "n1", "new", false), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)}},
		"maxUnavailable 1: next node once the new pod is ready": {ds: daemonSet(), nodes: four,
			pods:       []*corev1.Pod{pod("a", "n1", "new", true), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantDelete: []string{"b"}},
		"maxUnavailable 50%: two at a time": {ds: daemonSet(withStrategy(structpb.NewStringValue("50%"), structpb.NewNumberValue(0))), nodes: four,
			pods:       []*corev1.Pod{pod("a", "n1", "old", true), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantDelete: []string{"a", "b"}},
		"maxUnavailable 10% of 4 rounds up to 1": {ds: daemonSet(withStrategy(structpb.NewStringValue("10%"), structpb.NewNumberValue(0))), nodes: four,
			pods:       []*corev1.Pod{pod("a", "n1", "old", true), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantDelete: []string{"a"}},
		"an unavailable old pod is replaced at once, beyond the budget": {ds: daemonSet(), nodes: four,
			pods:       []*corev1.Pod{pod("a", "n1", "old", false), pod("b", "n2", "old", false), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantDelete: []string{"a", "b"}},
		"a node without pod: manage creates it, no rolling step in the same sync": {ds: daemonSet(), nodes: four,
			pods:       []*corev1.Pod{pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantCreate: []string{"n1"}},
		"all updated: nothing": {ds: daemonSet(), nodes: four,
			pods: []*corev1.Pod{pod("a", "n1", "new", true), pod("b", "n2", "new", true), pod("c", "n3", "new", true), pod("d", "n4", "new", true)}},
		"OnDelete: nothing": {ds: daemonSet(func(ds *daemonsetv1.DaemonSet) {
			ds.Spec.UpdateStrategy = &daemonsetv1.DaemonSetUpdateStrategy{Type: OnDelete}
		}), nodes: four,
			pods: []*corev1.Pod{pod("a", "n1", "old", true), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)}},
		"maxSurge 1: a new pod next to one old pod": {ds: daemonSet(withStrategy(structpb.NewNumberValue(0), structpb.NewNumberValue(1))), nodes: four,
			pods:       []*corev1.Pod{pod("a", "n1", "old", true), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantCreate: []string{"n1"}},
		"maxSurge 1: waits for the surged pod": {ds: daemonSet(withStrategy(structpb.NewNumberValue(0), structpb.NewNumberValue(1))), nodes: four,
			pods: []*corev1.Pod{pod("a", "n1", "old", true), pod("a2", "n1", "new", false), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)}},
		"maxSurge 1: the old pod goes once the new one is available": {ds: daemonSet(withStrategy(structpb.NewNumberValue(0), structpb.NewNumberValue(1))), nodes: four,
			pods:       []*corev1.Pod{pod("a", "n1", "old", true), pod("a2", "n1", "new", true), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantDelete: []string{"a"}},
		"maxSurge 100%: every node at once": {ds: daemonSet(withStrategy(structpb.NewNumberValue(0), structpb.NewStringValue("100%"))), nodes: four,
			pods:       []*corev1.Pod{pod("a", "n1", "old", true), pod("b", "n2", "old", true), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantCreate: []string{"n1", "n2", "n3", "n4"}},
		"maxSurge: an unavailable old pod gets its replacement beyond the budget": {ds: daemonSet(withStrategy(structpb.NewNumberValue(0), structpb.NewNumberValue(1))), nodes: four,
			pods:       []*corev1.Pod{pod("a", "n1", "old", true), pod("b", "n2", "old", false), pod("c", "n3", "old", true), pod("d", "n4", "old", true)},
			wantCreate: []string{"n2", "n1"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			plan := PlanSync(tc.ds, tc.nodes, tc.pods, "new", t0)
			if !slices.Equal(plan.CreateOn, tc.wantCreate) {
				t.Errorf("create on %v, want %v", plan.CreateOn, tc.wantCreate)
			}
			if got := names(plan.Delete); !slices.Equal(got, tc.wantDelete) {
				t.Errorf("delete %v, want %v", got, tc.wantDelete)
			}
		})
	}
}

// TestRollingUpdateConverges runs the planner against a simulated fleet where
// creations become ready at once and deletions complete at once: every pod ends
// up updated, and never more than maxUnavailable nodes lack an available pod.
func TestRollingUpdateConverges(t *testing.T) {
	cases := map[string]struct {
		maxUnavailable, maxSurge *structpb.Value
		nodes                    int
		wantMaxUnavailable       int
	}{
		"maxUnavailable 1":   {maxUnavailable: structpb.NewNumberValue(1), maxSurge: structpb.NewNumberValue(0), nodes: 5, wantMaxUnavailable: 1},
		"maxUnavailable 40%": {maxUnavailable: structpb.NewStringValue("40%"), maxSurge: structpb.NewNumberValue(0), nodes: 5, wantMaxUnavailable: 2},
		"maxSurge 2":         {maxUnavailable: structpb.NewNumberValue(0), maxSurge: structpb.NewNumberValue(2), nodes: 5, wantMaxUnavailable: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ds := daemonSet(withStrategy(tc.maxUnavailable, tc.maxSurge))
			var nodes []*nodev1.Node
			var pods []*corev1.Pod
			for i := range tc.nodes {
				n := "n" + string(rune('1'+i))
				nodes = append(nodes, node(n, nil))
				pods = append(pods, pod("old-"+n, n, "old", true))
			}
			seq := 0
			for step := 0; step < 100; step++ {
				plan := PlanSync(ds, nodes, pods, "new", t0)
				if len(plan.CreateOn) == 0 && len(plan.Delete) == 0 {
					break
				}
				gone := map[string]bool{}
				for _, p := range plan.Delete {
					gone[p.Metadata.Name] = true
				}
				var next []*corev1.Pod
				for _, p := range pods {
					if !gone[p.Metadata.Name] {
						next = append(next, p)
					}
				}
				// Check the availability between deletion and creation (the worst moment).
				avail := map[string]bool{}
				for _, p := range next {
					if podutil.IsPodAvailable(p, 0, t0) {
						avail[p.Spec.NodeName] = true
					}
				}
				if un := tc.nodes - len(avail); un > tc.wantMaxUnavailable {
					t.Fatalf("step %d: %d nodes unavailable, max %d", step, un, tc.wantMaxUnavailable)
				}
				for _, n := range plan.CreateOn {
					seq++
					p := pod("new-"+n+"-"+string(rune('a'+seq)), n, "new", true)
					p.Metadata.CreationTimestamp = timestamppb.New(t0.Add(time.Duration(seq) * time.Second))
					next = append(next, p)
				}
				pods = next
			}
			st := Status(ds, nodes, NodesToPods(pods), "new", t0)
			if st.GetUpdatedNumberScheduled() != int32(tc.nodes) || st.GetNumberAvailable() != int32(tc.nodes) || len(pods) != tc.nodes {
				t.Fatalf("did not converge: %v, %d pods", st, len(pods))
			}
		})
	}
}

func TestStatus(t *testing.T) {
	ds := daemonSet(withNodeSelector(map[string]string{"run": "yes"}), func(ds *daemonsetv1.DaemonSet) { ds.Spec.MinReadySeconds = 30 })
	nodes := []*nodev1.Node{node("n1", map[string]string{"run": "yes"}), node("n2", map[string]string{"run": "yes"}),
		node("n3", map[string]string{"run": "yes"}), node("n4", nil)}
	fresh := pod("b", "n2", "h1", true)
	fresh.Status.Conditions[0].LastTransitionTime = timestamppb.New(t0.Add(-time.Second))
	pods := []*corev1.Pod{pod("a", "n1", "h1", true), fresh, pod("d", "n4", "old", true)}
	plan := PlanSync(ds, nodes, pods, "h1", t0)
	st := plan.Status
	want := map[string]int32{"desired": 3, "current": 2, "misscheduled": 1, "ready": 2, "available": 1, "unavailable": 2, "updated": 2}
	got := map[string]int32{"desired": st.GetDesiredNumberScheduled(), "current": st.GetCurrentNumberScheduled(), "misscheduled": st.GetNumberMisscheduled(),
		"ready": st.GetNumberReady(), "available": st.GetNumberAvailable(), "unavailable": st.GetNumberUnavailable(), "updated": st.GetUpdatedNumberScheduled()}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if st.GetObservedGeneration() != 1 {
		t.Errorf("observedGeneration %d", st.GetObservedGeneration())
	}
	if plan.RequeueAfter != 30*time.Second {
		t.Errorf("requeue %v, want 30s (minReadySeconds)", plan.RequeueAfter)
	}
}

func TestFailedPodBackoff(t *testing.T) {
	nodes := []*nodev1.Node{node("n1", nil), node("n2", nil)}
	pods := []*corev1.Pod{phase(pod("a", "n1", "h1", false), "Failed"), phase(pod("b", "n2", "h1", false), "Failed")}
	backoff := func(node string, _ time.Time) time.Duration {
		if node == "n1" {
			return 4 * time.Second
		}
		return 0
	}
	plan := PlanSyncWithBackoff(daemonSet(), nodes, pods, "h1", t0, backoff)
	if got := names(plan.Delete); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("delete %v, want [b] (n1 is backed off)", got)
	}
	if !slices.Equal(plan.FailedOn, []string{"n2"}) || plan.RequeueAfter != 4*time.Second || len(plan.Events) != 2 || plan.Events[0].Reason != ReasonSuccessfulDelete {
		t.Fatalf("failedOn %v, requeue %v, events %v", plan.FailedOn, plan.RequeueAfter, plan.Events)
	}
}
