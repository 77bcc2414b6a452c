package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/node/internal/podstatus"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Container waiting reasons.
const (
	ReasonContainerCreating = "ContainerCreating"
	ReasonPodInitializing   = "PodInitializing"
	ReasonCrashLoopBackOff  = "CrashLoopBackOff"
)

// ensureStatuses gives every container a status (waiting ContainerCreating)
// the first time the kubelet sees the pod, and sets startTime.
func (s *step) ensureStatuses() {
	st := s.pod.Status
	if st.StartTime == nil {
		st.StartTime = timestamppb.New(s.now)
	}
	if st.Phase == "" {
		st.Phase = podutil.PodPending
	}
	st.InitContainerStatuses = reconcileStatuses(st.InitContainerStatuses, s.pod.GetSpec().GetInitContainers(), ReasonPodInitializing)
	st.ContainerStatuses = reconcileStatuses(st.ContainerStatuses, s.pod.GetSpec().GetContainers(), ReasonContainerCreating)
}

func reconcileStatuses(have []*corev1.ContainerStatus, containers []*corev1.Container, waiting string) []*corev1.ContainerStatus {
	if len(have) == len(containers) {
		return have
	}
	byName := map[string]*corev1.ContainerStatus{}
	for _, cs := range have {
		byName[cs.GetName()] = cs
	}
	out := make([]*corev1.ContainerStatus, 0, len(containers))
	for _, c := range containers {
		if cs, ok := byName[c.GetName()]; ok {
			out = append(out, cs)
			continue
		}
		f := false
		out = append(out, &corev1.ContainerStatus{
			Name:    c.GetName(),
			Image:   c.GetImage(),
			State:   &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting}},
			Started: &f,
		})
	}
	return out
}

// start runs the pod's containers Start after binding: init containers
// complete, then every container runs, except those whose image fails to
// pull: they cycle through ErrImagePull and ImagePullBackOff, and the pod
// stays Pending, until their image exists.
func (s *step) start() {
	st := s.pod.Status
	if st.Phase != podutil.PodPending || !anyWaiting(st.ContainerStatuses, ReasonContainerCreating, ReasonErrImagePull, ReasonImagePullBackOff) {
		return
	}
	startAt := s.scheduledAt().Add(s.d.Start)
	if s.now.Before(startAt) {
		s.at(startAt)
		return
	}
	ts := timestamppb.New(s.now)
	for i, c := range s.pod.Spec.InitContainers {
		cs := st.InitContainerStatuses[i]
		if cs.GetState().GetTerminated() != nil {
			continue
		}
		s.containerEvents(c, "spec.initContainers")
		cs.ContainerId = containerID(s.pod, c.GetName(), 0)
		cs.ImageId = imageID(c.GetImage())
		cs.State = &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", StartedAt: ts, FinishedAt: ts, ContainerId: cs.ContainerId,
		}}
		cs.Ready = true
		f := false
		cs.Started = &f
	}
	pending := false
	for i, c := range s.pod.Spec.Containers {
		cs := st.ContainerStatuses[i]
		switch cs.GetState().GetWaiting().GetReason() {
		case ReasonContainerCreating, ReasonErrImagePull, ReasonImagePullBackOff:
		default:
			continue
		}
		if s.pullFails(c) {
			s.pullFailed(c, cs, startAt)
			pending = true
			continue
		}
		s.runContainer(c, cs, ts)
	}
	if !pending {
		st.Phase = podutil.PodRunning
	}
}

// runContainer starts container c now.
func (s *step) runContainer(c *corev1.Container, cs *corev1.ContainerStatus, ts *timestamppb.Timestamp) {
	s.containerEvents(c, "spec.containers")
	cs.Image = c.GetImage()
	cs.ContainerId = containerID(s.pod, c.GetName(), cs.GetRestartCount())
	cs.ImageId = imageID(c.GetImage())
	cs.State = &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts}}
	cs.Ready = false
	t := true
	cs.Started = &t
}

// containerEvents are the kubelet's Pulling/Pulled/Created/Started events.
func (s *step) containerEvents(c *corev1.Container, path string) {
	fp := fmt.Sprintf("%s{%s}", path, c.GetName())
	if c.GetImagePullPolicy() == "Always" {
		s.event(podstatus.EventNormal, "Pulling", fmt.Sprintf("Pulling image %q", c.GetImage()), fp)
		s.event(podstatus.EventNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q in %s (%s including waiting)",
			c.GetImage(), s.d.Start, s.d.Start), fp)
	} else {
		s.event(podstatus.EventNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", c.GetImage()), fp)
	}
	s.event(podstatus.EventNormal, "Created", "Created container: "+c.GetName(), fp)
	s.event(podstatus.EventNormal, "Started", "Started container "+c.GetName(), fp)
}

// advanceContainer moves one started container: a finite program exits, an
// exited container restarts (per restartPolicy, after back-off), a running one
// becomes ready.
func (s *step) advanceContainer(i int) {
	c := s.pod.Spec.Containers[i]
	cs := s.pod.Status.ContainerStatuses[i]
	// A few transitions can fall due at once (exit, restart, exit again is
	// impossible: a restart needs back-off time to pass).
	for range 3 {
		if !s.transition(c, cs) {
			break
		}
	}
	if r := cs.GetState().GetRunning(); r != nil {
		readyAt := r.GetStartedAt().AsTime().Add(s.readyDelay(c))
		ready := !s.now.Before(readyAt) && s.pod.GetMetadata().GetAnnotations()[AnnotationUnready] == ""
		if s.now.Before(readyAt) {
			s.at(readyAt)
		}
		cs.Ready = ready
	}
}

// transition makes the one due state change of a container, if any.
func (s *step) transition(c *corev1.Container, cs *corev1.ContainerStatus) bool {
	st := cs.GetState()
	switch {
	case st.GetRunning() != nil && cs.GetImage() != c.GetImage():
		// The image was changed on the pod: the kubelet restarts the container.
		s.event(podstatus.EventNormal, "Killing", fmt.Sprintf("Container %s definition changed, will be restarted", c.GetName()),
			fmt.Sprintf("spec.containers{%s}", c.GetName()))
		exit(cs, 0, s.now)
		cs.LastState = cs.State
		cs.RestartCount++
		s.runContainer(c, cs, timestamppb.New(s.now))
		return true
	case st.GetRunning() != nil:
		if changed, handled := s.runtimeStep(c, cs); handled {
			return changed
		}
		prog := ProgramFor(s.pod, c).Scaled(s.d.TimeScale)
		if prog.Forever {
			return false
		}
		exitAt := st.GetRunning().GetStartedAt().AsTime().Add(prog.Duration)
		if s.now.Before(exitAt) {
			s.at(exitAt)
			return false
		}
		exit(cs, prog.ExitCode, exitAt)
		return true
	case st.GetTerminated() != nil:
		if !shouldRestart(s.pod.GetSpec().GetRestartPolicy(), st.GetTerminated().GetExitCode()) {
			return false
		}
		m := s.pod.GetMetadata()
		cs.LastState = cs.State
		cs.RestartCount++
		cs.State = &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: ReasonCrashLoopBackOff,
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
				s.backOff(cs.RestartCount), c.GetName(), m.GetName(), m.GetNamespace(), m.GetUid()),
		}}
		s.event(podstatus.EventWarning, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)",
			c.GetName(), m.GetName(), m.GetNamespace(), m.GetUid()), fmt.Sprintf("spec.containers{%s}", c.GetName()))
		return true
	case st.GetWaiting().GetReason() == ReasonCrashLoopBackOff:
		finished := s.now
		if t := cs.GetLastState().GetTerminated(); t != nil && t.GetFinishedAt() != nil {
			finished = t.GetFinishedAt().AsTime()
		}
		restartAt := finished.Add(s.backOff(cs.RestartCount))
		if s.now.Before(restartAt) {
			s.at(restartAt)
			return false
		}
		s.runContainer(c, cs, timestamppb.New(s.now))
		return true
	}
	return false
}

// exit terminates a running container with code at t.
func exit(cs *corev1.ContainerStatus, code int32, t time.Time) {
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	cs.State = &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: cs.GetState().GetRunning().GetStartedAt(),
		FinishedAt: timestamppb.New(t), ContainerId: cs.GetContainerId(),
	}}
	cs.Ready = false
	f := false
	cs.Started = &f
}

// shouldRestart is the kubelet's decision for an exited container.
func shouldRestart(policy string, code int32) bool {
	switch policy {
	case "Never":
		return false
	case "OnFailure":
		return code != 0
	default:
		return true
	}
}

// backOff is the crash-loop delay before restart n: BackOff doubling, capped at 30x.
func (s *step) backOff(restarts int32) time.Duration {
	base := max(s.d.BackOff, MinBackOff)
	d := base
	for i := int32(1); i < restarts && d < 30*base; i++ {
		d *= 2
	}
	return min(d, 30*base)
}

// readyDelay is the readiness probe's initialDelaySeconds, else Delays.Ready.
func (s *step) readyDelay(c *corev1.Container) time.Duration {
	if p := c.GetReadinessProbe(); p != nil {
		return time.Duration(p.GetInitialDelaySeconds()) * time.Second
	}
	return s.d.Ready
}

// updatePhase: once every container has exited for good the pod is Succeeded
// (all exit codes 0) or Failed.
func (s *step) updatePhase() {
	st := s.pod.Status
	if st.Phase != podutil.PodRunning || len(st.ContainerStatuses) == 0 {
		return
	}
	failed := false
	for _, cs := range st.ContainerStatuses {
		t := cs.GetState().GetTerminated()
		if t == nil {
			return
		}
		failed = failed || t.GetExitCode() != 0
	}
	if failed {
		st.Phase = podutil.PodFailed
	} else {
		st.Phase = podutil.PodSucceeded
	}
}

// activeDeadline fails a pod that has been active longer than spec.activeDeadlineSeconds.
func (s *step) activeDeadline() {
	ads := s.pod.GetSpec().ActiveDeadlineSeconds
	st := s.pod.Status
	if ads == nil || st.StartTime == nil || podutil.IsPodTerminal(s.pod) {
		return
	}
	deadline := st.StartTime.AsTime().Add(time.Duration(*ads) * time.Second)
	if s.now.Before(deadline) {
		s.at(deadline)
		return
	}
	const msg = "Pod was active on the node longer than the specified deadline"
	s.stopRuntime(0)
	Fail(s.pod, 137, s.now)
	st.Reason, st.Message = "DeadlineExceeded", msg
	s.event(podstatus.EventWarning, "DeadlineExceeded", msg, "")
}

// Fail stops every container that has not exited (exit code code) and puts the
// pod in phase Failed.
func Fail(p *corev1.Pod, code int32, now time.Time) {
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		switch {
		case cs.GetState().GetRunning() != nil:
			exit(cs, code, now)
		case cs.GetState().GetWaiting() != nil:
			if cs.GetState().GetWaiting().GetReason() == ReasonCrashLoopBackOff && cs.GetLastState() != nil {
				cs.State = cs.LastState
			} else {
				cs.State = &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: code, Reason: "ContainerStatusUnknown", FinishedAt: timestamppb.New(now),
				}}
			}
			cs.Ready = false
		}
	}
	p.Status.Phase = podutil.PodFailed
}

func anyWaiting(list []*corev1.ContainerStatus, reasons ...string) bool {
	for _, cs := range list {
		for _, r := range reasons {
			if cs.GetState().GetWaiting().GetReason() == r {
				return true
			}
		}
	}
	return false
}

// containerID is a stable containerd id for a container incarnation.
func containerID(p *corev1.Pod, name string, restarts int32) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", p.GetMetadata().GetUid(), name, restarts))
	return "containerd://" + hex.EncodeToString(h[:])
}

// imageID is a stable digest reference for an image.
func imageID(image string) string {
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	if !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	if first := repo[:strings.Index(repo, "/")]; !strings.ContainsAny(first, ".:") && first != "localhost" {
		repo = "docker.io/" + repo
	}
	h := sha256.Sum256([]byte(image))
	return repo + "@sha256:" + hex.EncodeToString(h[:])
}
