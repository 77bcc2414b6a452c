package reconcile

import (
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Update strategies.
const (
	RollingUpdate = "RollingUpdate"
	OnDelete      = "OnDelete"
)

// Event reasons of the daemonset controller.
const (
	ReasonFailedDaemonPod  = "FailedDaemonPod"
	ReasonSelectingAll     = "SelectingAll"
	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
)

// SelectsAll reports whether ds's selector is empty: Kubernetes' controller
// then only records PlanSelectingAll's warning.
func SelectsAll(ds *daemonsetv1.DaemonSet) bool {
	sel := ds.GetSpec().GetSelector()
	return len(sel.GetMatchLabels())+len(sel.GetMatchExpressions()) == 0
}

// PlanSelectingAll is the plan of a DaemonSet whose selector selects every pod.
func PlanSelectingAll() Plan {
	return Plan{Events: []Event{{Type: "Warning", Reason: ReasonSelectingAll,
		Message: "This daemon set is selecting all pods. A non-empty selector is required."}}}
}

// Event is a Kubernetes event to record about the DaemonSet.
type Event struct {
	Type, Reason, Message string
}

// Plan is what one sync does.
type Plan struct {
	// CreateOn lists the nodes that get a new daemon pod, in order.
	CreateOn []string
	// Create are those pods (NewPod), in the same order.
	Create []*corev1.Pod
	// Delete lists the pods to delete.
	Delete []*corev1.Pod
	// Events are the events to record, in order: SuccessfulCreate for each pod
	// created, SuccessfulDelete for each pod deleted, then the others.
	Events []Event
	// Status is the new status (observedGeneration included).
	Status *daemonsetv1.DaemonSetStatus
	// RequeueAfter asks for another sync (minReadySeconds, failed-pod back-off).
	RequeueAfter time.Duration
	// FailedOn lists the nodes whose failed pod is deleted now: their back-off grows.
	FailedOn []string
}

// FailedPodBackoff is the controller's failedPodsBackoff: how long the
// replacement of a failed daemon pod on node must still wait (0: not at all).
type FailedPodBackoff func(node string, now time.Time) time.Duration

// PlanSync is syncDaemonSet's decision: manage (one pod on every node that should
// run one, none elsewhere), then, when manage has nothing to do (Kubernetes waits
// for its expectations), the rolling update; and the status.
func PlanSync(ds *daemonsetv1.DaemonSet, nodes []*nodev1.Node, pods []*corev1.Pod, hash string, now time.Time) Plan {
	return PlanSyncWithBackoff(ds, nodes, pods, hash, now, nil)
}

// PlanSyncWithBackoff is PlanSync where a failed pod is replaced only once its
// node's back-off allows it (Kubernetes avoids fighting a kubelet that rejects pods).
func PlanSyncWithBackoff(ds *daemonsetv1.DaemonSet, nodes []*nodev1.Node, pods []*corev1.Pod, hash string, now time.Time, backoff FailedPodBackoff) Plan {
	nodes = sortedNodes(nodes)
	byNode := NodesToPods(pods)
	var plan Plan
	m := manage(ds, nodes, byNode, hash, now, backoff)
	plan.CreateOn, plan.Delete, plan.Events, plan.FailedOn, plan.RequeueAfter = m.create, m.del, m.events, m.failedOn, m.wait
	if len(plan.CreateOn) == 0 && len(plan.Delete) == 0 && ds.GetSpec().GetUpdateStrategy().GetType() != OnDelete {
		plan.CreateOn, plan.Delete = RollingUpdateStep(ds, nodes, byNode, hash, now)
	}
	var podEvents []Event
	for _, node := range plan.CreateOn {
		p := NewPod(ds, node, hash)
		plan.Create = append(plan.Create, p)
		podEvents = append(podEvents, Event{Type: "Normal", Reason: ReasonSuccessfulCreate, Message: "Created pod: " + p.GetMetadata().GetName()})
	}
	for _, p := range plan.Delete {
		podEvents = append(podEvents, Event{Type: "Normal", Reason: ReasonSuccessfulDelete, Message: "Deleted pod: " + p.GetMetadata().GetName()})
	}
	plan.Events = append(podEvents, plan.Events...)
	plan.Status = Status(ds, nodes, byNode, hash, now)
	if m := ds.GetSpec().GetMinReadySeconds(); m > 0 && plan.Status.GetNumberReady() != plan.Status.GetNumberAvailable() {
		if d := time.Duration(m) * time.Second; plan.RequeueAfter == 0 || d < plan.RequeueAfter {
			plan.RequeueAfter = d
		}
	}
	return plan
}

func sortedNodes(nodes []*nodev1.Node) []*nodev1.Node {
	out := append([]*nodev1.Node(nil), nodes...)
	sort.Slice(out, func(i, j int) bool { return out[i].GetMetadata().GetName() < out[j].GetMetadata().GetName() })
	return out
}

// allowsSurge is util.AllowsSurge.
func allowsSurge(ds *daemonsetv1.DaemonSet) bool {
	st := ds.GetSpec().GetUpdateStrategy()
	if st.GetType() != RollingUpdate || st.GetRollingUpdate().GetMaxSurge() == nil {
		return false
	}
	n, err := validation.IntOrPercent(st.GetRollingUpdate().GetMaxSurge(), 1, true)
	return err == nil && n > 0
}

type manageResult struct {
	create   []string
	del      []*corev1.Pod
	events   []Event
	failedOn []string
	wait     time.Duration
}

// manage is the daemonset controller's manage + podsShouldBeOnNode.
func manage(ds *daemonsetv1.DaemonSet, nodes []*nodev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time, backoff FailedPodBackoff) manageResult {
	var create []string
	var del []*corev1.Pod
	var events []Event
	var failedOn []string
	var wait time.Duration
	surge := allowsSurge(ds)
	for _, node := range nodes {
		name := node.GetMetadata().GetName()
		shouldRun, shouldContinue := ShouldRun(node, ds)
		daemonPods, exists := byNode[name]
		switch {
		case shouldRun && !exists:
			create = append(create, name)
		case shouldContinue:
			var running []*corev1.Pod
			for _, p := range daemonPods {
				if p.GetMetadata().GetDeletionTimestamp() != nil {
					continue
				}
				switch p.GetStatus().GetPhase() {
				case podutil.PodFailed:
					if backoff != nil {
						if d := backoff(name, now); d > 0 {
							if wait == 0 || d < wait {
								wait = d
							}
							continue
						}
					}
					failedOn = append(failedOn, name)
					events = append(events, Event{Type: "Warning", Reason: ReasonFailedDaemonPod,
						Message: fmt.Sprintf("Found failed daemon pod %s/%s on node %s, will try to kill it", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), name)})
					del = append(del, p)
				case podutil.PodSucceeded:
					del = append(del, p)
				default:
					running = append(running, p)
				}
			}
			if !surge {
				if len(running) > 1 {
					sortPods(running)
					del = append(del, running[1:]...)
				}
				continue
			}
			if len(running) <= 1 {
				if len(running) == 0 && shouldRun {
					create = append(create, name)
				}
				continue
			}
			// Surging: keep the oldest new pod, and the oldest old pod while the new one
			// is not available yet (unless the old one is not ready).
			sortPods(running)
			var oldestNew, oldestOld *corev1.Pod
			for _, p := range running {
				if isUpdated(p, hash) {
					if oldestNew == nil {
						oldestNew = p
						continue
					}
				} else if oldestOld == nil {
					oldestOld = p
					continue
				}
				del = append(del, p)
			}
			if oldestNew != nil && oldestOld != nil &&
				(!podutil.IsPodReady(oldestOld) || podutil.IsPodAvailable(oldestNew, ds.GetSpec().GetMinReadySeconds(), now)) {
				del = append(del, oldestOld)
			}
		case !shouldContinue && exists:
			for _, p := range daemonPods {
				if p.GetMetadata().GetDeletionTimestamp() == nil {
					del = append(del, p)
				}
			}
		}
	}
	// Unscheduled pods bound (by affinity) to nodes that no longer exist.
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.GetMetadata().GetName()] = true
	}
	for _, name := range sortedKeys(byNode) {
		if known[name] {
			continue
		}
		for _, p := range byNode[name] {
			if p.GetSpec().GetNodeName() == "" && p.GetMetadata().GetDeletionTimestamp() == nil {
				del = append(del, p)
			}
		}
	}
	return manageResult{create: create, del: del, events: events, failedOn: failedOn, wait: wait}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// findUpdatedPodsOnNode is Kubernetes' function of the same name: at most one new
// and one old live pod, else ok=false.
func findUpdatedPodsOnNode(pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		if isUpdated(p, hash) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// MaxCounts is updatedDesiredNodeCounts: maxSurge and maxUnavailable scaled
// against the desired number of scheduled pods (rounded up), with
// maxUnavailable 1 when both would be 0.
func MaxCounts(ds *daemonsetv1.DaemonSet, desired int) (maxSurge, maxUnavailable int) {
	ru := ds.GetSpec().GetUpdateStrategy().GetRollingUpdate()
	if ds.GetSpec().GetUpdateStrategy().GetType() == RollingUpdate {
		if v := ru.GetMaxUnavailable(); v != nil {
			maxUnavailable, _ = validation.IntOrPercent(v, desired, true)
		}
		if v := ru.GetMaxSurge(); v != nil {
			maxSurge, _ = validation.IntOrPercent(v, desired, true)
		}
	}
	if desired > 0 && maxUnavailable == 0 && maxSurge == 0 {
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable
}

// RollingUpdateStep is the daemonset controller's rollingUpdate: without surge,
// delete as many outdated pods as maxUnavailable allows (manage then creates their
// replacements); with surge, create new pods next to outdated ones (at most
// maxSurge at a time) and delete an old pod once its replacement is available.
func RollingUpdateStep(ds *daemonsetv1.DaemonSet, nodes []*nodev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) (create []string, del []*corev1.Pod) {
	minReady := ds.GetSpec().GetMinReadySeconds()
	byName := map[string]*nodev1.Node{}
	desired := 0
	all := map[string][]*corev1.Pod{}
	for k, v := range byNode {
		all[k] = v
	}
	for _, n := range nodes {
		name := n.GetMetadata().GetName()
		byName[name] = n
		if run, _ := ShouldRun(n, ds); run {
			desired++
			if _, ok := all[name]; !ok {
				all[name] = nil
			}
		}
	}
	maxSurge, maxUnavailable := MaxCounts(ds, desired)
	names := sortedKeys(all)

	if maxSurge == 0 {
		numUnavailable := 0
		var allowed, candidates []*corev1.Pod
		for _, name := range names {
			newPod, oldPod, ok := findUpdatedPodsOnNode(all[name], hash)
			switch {
			case !ok:
				numUnavailable++
			case (oldPod == nil && newPod == nil) || (oldPod != nil && newPod != nil):
				numUnavailable++
			case newPod != nil:
				if !podutil.IsPodAvailable(newPod, minReady, now) {
					numUnavailable++
				}
			case !podutil.IsPodAvailable(oldPod, minReady, now):
				allowed = append(allowed, oldPod)
				numUnavailable++
			case numUnavailable >= maxUnavailable:
			default:
				candidates = append(candidates, oldPod)
			}
		}
		remaining := min(max(maxUnavailable-numUnavailable, 0), len(candidates))
		return nil, append(allowed, candidates[:remaining]...)
	}

	var shouldNotRun, candidateNodes, allowedNodes []string
	oldOf := map[string]*corev1.Pod{}
	numSurge, numAvailable := 0, 0
	for _, name := range names {
		newPod, oldPod, ok := findUpdatedPodsOnNode(all[name], hash)
		if !ok {
			numSurge++
			continue
		}
		if oldPod != nil {
			if podutil.IsPodAvailable(oldPod, minReady, now) {
				numAvailable++
			}
		} else if newPod != nil && podutil.IsPodAvailable(newPod, minReady, now) {
			numAvailable++
		}
		node := byName[name]
		if node == nil {
			continue // the node is gone: manage cleans up
		}
		if run, _ := ShouldRun(node, ds); !run {
			if oldPod != nil {
				shouldNotRun = append(shouldNotRun, name)
				oldOf[name] = oldPod
			}
			continue
		}
		switch {
		case oldPod == nil:
		case newPod == nil:
			if !podutil.IsPodAvailable(oldPod, minReady, now) {
				allowedNodes = append(allowedNodes, name)
			} else {
				candidateNodes = append(candidateNodes, name)
			}
		default:
			if !podutil.IsPodAvailable(newPod, minReady, now) {
				numSurge++
				continue
			}
			del = append(del, oldPod)
		}
	}
	if deletable := numAvailable - desired; deletable > 0 {
		for _, name := range shouldNotRun[:min(deletable, len(shouldNotRun))] {
			del = append(del, oldOf[name])
		}
	}
	remaining := min(max(maxSurge-numSurge, 0), len(candidateNodes))
	return append(allowedNodes, candidateNodes[:remaining]...), del
}

// Status is updateDaemonSetStatus's computation.
func Status(ds *daemonsetv1.DaemonSet, nodes []*nodev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) *daemonsetv1.DaemonSetStatus {
	var desired, current, mis, ready, updated, available int32
	for _, node := range nodes {
		run, _ := ShouldRun(node, ds)
		pods := byNode[node.GetMetadata().GetName()]
		scheduled := len(pods) > 0
		if !run {
			if scheduled {
				mis++
			}
			continue
		}
		desired++
		if !scheduled {
			continue
		}
		current++
		sorted := append([]*corev1.Pod(nil), pods...)
		sortPods(sorted)
		p := sorted[0]
		if podutil.IsPodReady(p) {
			ready++
			if podutil.IsPodAvailable(p, ds.GetSpec().GetMinReadySeconds(), now) {
				available++
			}
		}
		if isUpdated(p, hash) {
			updated++
		}
	}
	st := &daemonsetv1.DaemonSetStatus{
		CurrentNumberScheduled: proto.Int32(current),
		NumberMisscheduled:     proto.Int32(mis),
		DesiredNumberScheduled: proto.Int32(desired),
		NumberReady:            proto.Int32(ready),
		ObservedGeneration:     ds.GetMetadata().GetGeneration(),
		UpdatedNumberScheduled: updated,
		NumberAvailable:        available,
		NumberUnavailable:      desired - available,
		Conditions:             ds.GetStatus().GetConditions(),
	}
	if ds.GetStatus() != nil && ds.Status.CollisionCount != nil {
		st.CollisionCount = proto.Int32(ds.GetStatus().GetCollisionCount())
	}
	return st
}
