package sim

import (
	"strconv"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Annotations that script what a container with a command does.
const (
	// AnnotationExitCode is the exit code of every container with a command ("0", "1", ...).
	AnnotationExitCode = "sim.podwarden.io/exit-code"
	// AnnotationDuration is how long such a container runs before it exits ("3s", "1m").
	AnnotationDuration = "sim.podwarden.io/duration"
	// AnnotationUnready marks a pod whose readiness probe fails (InjectPodFault "unready").
	AnnotationUnready = "sim.podwarden.io/unready"
)

// Program is what a container does once running: exit with ExitCode after
// Duration, or run until it is stopped (Forever).
type Program struct {
	Forever  bool
	Duration time.Duration
	ExitCode int32
}

// ProgramFor decides the program of a container. A container with a command
// (or args) honours the pod's sim.podwarden.io/exit-code and
// sim.podwarden.io/duration annotations: with either one set it runs that long
// (default 0) and exits with that code (default 0). Everything else runs until
// deleted. This is the one place that interprets commands: parsing `sh -c`
// scripts plugs in here.
func ProgramFor(pod *corev1.Pod, c *corev1.Container) Program {
	if len(c.GetCommand()) == 0 && len(c.GetArgs()) == 0 {
		return Program{Forever: true}
	}
	ann := pod.GetMetadata().GetAnnotations()
	codeStr, hasCode := ann[AnnotationExitCode]
	durStr, hasDur := ann[AnnotationDuration]
	if !hasCode && !hasDur {
		return Program{Forever: true}
	}
	p := Program{}
	if hasCode {
		if v, err := strconv.ParseInt(codeStr, 10, 32); err == nil {
			p.ExitCode = int32(v)
		}
	}
	if hasDur {
		if d, err := time.ParseDuration(durStr); err == nil && d > 0 {
			p.Duration = d
		} else if n, err := strconv.ParseFloat(durStr, 64); err == nil && n > 0 {
			p.Duration = time.Duration(n * float64(time.Second))
		}
	}
	return p
}
