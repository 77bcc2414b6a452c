// Package sim is the simulated kubelet: Next moves a pod bound to a node one
// step along its lifecycle (ContainerCreating -> Running -> Ready, container
// exits and restarts with back-off, terminal phases, graceful deletion,
// taint-based eviction, activeDeadlineSeconds) as a pure function of the
// stored pod, its node, the time and the configured delays. Everything it
// needs is in the stored status, so a restarted service picks up where it was.
package sim

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Delays are the simulated durations of a pod's life. Zero everywhere (tests,
// benchmarks) makes a pod Ready in the step that starts it.
type Delays struct {
	// Start is the time from binding to running containers (image pull, create).
	Start time.Duration
	// Ready is the time from running to ready when there is no readiness probe.
	Ready time.Duration
	// Termination is how long containers take to stop after a graceful delete
	// (capped by the grace period).
	Termination time.Duration
	// BackOff is the first crash-loop back-off (Kubernetes: 10s); it doubles per
	// restart up to 30 times itself (5m). Values under MinBackOff use MinBackOff.
	BackOff time.Duration
	// TimeScale multiplies the durations of container programs (`sleep N` in a
	// script, sim.podwarden.io/duration): 0.01 runs them 100 times faster.
	// 0 means 1.
	TimeScale float64
	// Runtime, when set, really runs containers that have a command (exec runtime).
	Runtime Runtime
	// Registry decides which images exist; a container whose image does not
	// fails to pull (ErrImagePull, ImagePullBackOff with the BackOff base).
	Registry Registry
}

// MinBackOff bounds the crash-loop back-off from below, so a container that
// exits at once does not spin when the delays are zero.
const MinBackOff = 10 * time.Millisecond

// Result is one step of a pod.
type Result struct {
	// Pod is the pod after the step, nil when nothing changed.
	Pod *corev1.Pod
	// Delete: the pod is gone; remove it and publish DELETED (Pod holds the final snapshot).
	Delete bool
	// Events to record.
	Events []podstatus.Event
	// Requeue: call Next again after this long (0: only a change of the pod or
	// its node moves it on).
	Requeue time.Duration
}

// Next computes the pod's next state on node at now. The pod must be bound
// (spec.nodeName set); an unbound pod is only ever deleted (when marked for
// deletion). A nil node means the node is gone: the pod is deleted, as the pod
// garbage collector does.
func Next(p *corev1.Pod, node *nodev1.Node, now time.Time, d Delays) Result {
	s := &step{pod: proto.Clone(p).(*corev1.Pod), node: node, now: now, d: d}
	if s.pod.Status == nil {
		s.pod.Status = &corev1.PodStatus{}
	}
	if s.pod.Metadata == nil {
		s.pod.Metadata = &corev1.ObjectMeta{}
	}
	del := s.run()
	res := Result{Delete: del, Events: s.events}
	if del || !proto.Equal(p, s.pod) {
		res.Pod = s.pod
	}
	if !del && !s.wake.IsZero() {
		res.Requeue = max(s.wake.Sub(now), time.Millisecond)
	}
	return res
}

type step struct {
	pod    *corev1.Pod
	node   *nodev1.Node
	now    time.Time
	d      Delays
	events []podstatus.Event
	wake   time.Time
}

// at notes a future moment the pod must be looked at again.
func (s *step) at(t time.Time) {
	if t.After(s.now) && (s.wake.IsZero() || t.Before(s.wake)) {
		s.wake = t
	}
}

func (s *step) event(typ, reason, msg, fieldPath string) {
	s.events = append(s.events, podstatus.Event{Type: typ, Reason: reason, Message: msg, FieldPath: fieldPath})
}

// run returns true when the pod is gone.
func (s *step) run() bool {
	deleting := s.pod.GetMetadata().GetDeletionTimestamp() != nil
	if s.pod.GetSpec().GetNodeName() == "" {
		return deleting
	}
	if s.node == nil {
		return true
	}
	if deleting {
		return s.terminate()
	}
	if podutil.IsPodTerminal(s.pod) {
		return false
	}
	if s.evict() {
		return s.terminate()
	}
	if !NodeReady(s.node) {
		s.markNotReady()
		return false
	}
	s.ensureStatuses()
	s.start()
	for i := range s.pod.Spec.Containers {
		s.advanceContainer(i)
	}
	s.updatePhase()
	s.activeDeadline()
	s.syncConditions()
	return false
}

// NodeReady reports a node whose Ready condition is True.
func NodeReady(n *nodev1.Node) bool {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

// scheduledAt is when the pod was bound (PodScheduled's transition time).
func (s *step) scheduledAt() time.Time {
	for _, c := range s.pod.GetStatus().GetConditions() {
		if c.GetType() == podutil.PodScheduled && c.GetStatus() == "True" && c.GetLastTransitionTime() != nil {
			return c.GetLastTransitionTime().AsTime()
		}
	}
	if t := s.pod.GetMetadata().GetCreationTimestamp(); t != nil {
		return t.AsTime()
	}
	return s.now
}

// terminate finishes a graceful deletion: after min(Termination, grace) the
// containers are stopped and the pod is gone. A dead kubelet (node not Ready)
// finishes nothing: the pod stays Terminating, as in Kubernetes.
func (s *step) terminate() bool {
	if podutil.IsPodTerminal(s.pod) || len(s.pod.GetStatus().GetContainerStatuses()) == 0 && s.pod.GetStatus().GetStartTime() == nil {
		return true
	}
	if !NodeReady(s.node) {
		s.markNotReady()
		return false
	}
	grace := time.Duration(s.pod.GetMetadata().GetDeletionGracePeriodSeconds()) * time.Second
	requested := s.pod.GetMetadata().GetDeletionTimestamp().AsTime().Add(-grace)
	s.stopRuntime(grace)
	killAt := requested.Add(min(s.d.Termination, grace))
	if s.now.Before(killAt) {
		s.at(killAt)
		return false
	}
	ts := timestamppb.New(s.now)
	for _, cs := range s.pod.Status.ContainerStatuses {
		if r := cs.GetState().GetRunning(); r != nil {
			cs.State = &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: r.GetStartedAt(), FinishedAt: ts, ContainerId: cs.GetContainerId(),
			}}
			cs.Ready = false
			f := false
			cs.Started = &f
		}
	}
	s.syncConditions()
	return true
}

// markNotReady is what the node lifecycle controller does to the pods of a
// node that stopped posting status: Ready=False, nothing else moves.
func (s *step) markNotReady() {
	if podutil.IsPodReadyConditionTrue(s.pod.Status) {
		s.events = append(s.events, podstatus.Event{Type: podstatus.EventWarning, Reason: "NodeNotReady", Message: "Node is not ready", Component: "node-controller"})
	}
	podstatus.SetCondition(s.pod.Status, podutil.PodReady, "False", "", "", s.now)
}
