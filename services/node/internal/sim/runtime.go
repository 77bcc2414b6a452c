package sim

import (
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Runtime runs containers for real (the node service's opt-in exec runtime).
// With a Runtime in Delays, a container with a command runs as a process and
// its exit decides the outcome; without one (the default) ProgramFor does.
type Runtime interface {
	// Start runs container c of pod as incarnation id (its containerID); it is
	// idempotent.
	Start(pod *corev1.Pod, c *corev1.Container, id string)
	// Exited reports whether incarnation id exited, with its code and time;
	// known is false for an id the runtime never started.
	Exited(id string) (code int32, at time.Time, exited, known bool)
	// Stop sends SIGTERM to the pod's processes, SIGKILL after grace.
	Stop(podUID string, grace time.Duration)
}

// RuntimePoll is how often a running exec container is looked at.
const RuntimePoll = 100 * time.Millisecond

// runtimeStep advances a running container through the Runtime; handled is
// false when the sim decides (no runtime, or no command).
func (s *step) runtimeStep(c *corev1.Container, cs *corev1.ContainerStatus) (changed, handled bool) {
	rt := s.d.Runtime
	if rt == nil || len(c.GetCommand())+len(c.GetArgs()) == 0 {
		return false, false
	}
	id := cs.GetContainerId()
	rt.Start(s.pod, c, id)
	code, at, exited, _ := rt.Exited(id)
	if !exited {
		s.at(s.now.Add(RuntimePoll))
		return false, true
	}
	exit(cs, code, at)
	return true, true
}

// stopRuntime stops the pod's processes (deletion, deadline).
func (s *step) stopRuntime(grace time.Duration) {
	if s.d.Runtime != nil {
		s.d.Runtime.Stop(s.pod.GetMetadata().GetUid(), grace)
	}
}
