package sim

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// LogEntry is one line of a container's log.
type LogEntry struct {
	Time time.Time
	Text string
}

// ErrBadLogRequest wraps the errors Kubernetes answers with 400 (unknown or
// waiting container, no previous incarnation).
var ErrBadLogRequest = errors.New("bad log request")

// DateFormat is the output format of `date` in the sim (busybox's default).
const DateFormat = "Mon Jan  2 15:04:05 MST 2006"

// ContainerName resolves the container a log request names: the only one
// when the request names none.
func ContainerName(p *corev1.Pod, name string) (string, error) {
	all := append(append([]*corev1.Container{}, p.GetSpec().GetInitContainers()...), p.GetSpec().GetContainers()...)
	if name == "" {
		if len(p.GetSpec().GetContainers()) == 1 {
			return p.GetSpec().GetContainers()[0].GetName(), nil
		}
		names := make([]string, 0, len(all))
		for _, c := range p.GetSpec().GetContainers() {
			names = append(names, c.GetName())
		}
		return "", fmt.Errorf("%w: a container name must be specified for pod %s, choose one of: [%s]", ErrBadLogRequest, p.GetMetadata().GetName(), strings.Join(names, " "))
	}
	for _, c := range all {
		if c.GetName() == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("%w: container %s is not valid for pod %s", ErrBadLogRequest, name, p.GetMetadata().GetName())
}

// ContainerLog is the simulated log of a container as of now: the lines its
// program (ProgramFor, scaled by timeScale) has written in its current
// incarnation, or in the previous one. more reports a running container
// (later calls may return more lines).
func ContainerLog(p *corev1.Pod, name string, previous bool, now time.Time, timeScale float64) (entries []LogEntry, more bool, err error) {
	var c *corev1.Container
	for _, x := range p.GetSpec().GetContainers() {
		if x.GetName() == name {
			c = x
		}
	}
	var cs *corev1.ContainerStatus
	for _, x := range p.GetStatus().GetContainerStatuses() {
		if x.GetName() == name {
			cs = x
		}
	}
	podName := p.GetMetadata().GetName()
	if c == nil || cs == nil {
		// Init containers complete at once in the sim and write nothing.
		if c == nil && cs == nil {
			for _, ic := range p.GetSpec().GetInitContainers() {
				if ic.GetName() == name {
					return nil, false, nil
				}
			}
		}
		return nil, false, fmt.Errorf("%w: container %q in pod %q is waiting to start: ContainerCreating", ErrBadLogRequest, name, podName)
	}
	prog := ProgramFor(p, c).Scaled(timeScale)
	run := func(started time.Time, until time.Time) []LogEntry {
		var out []LogEntry
		for _, l := range prog.Lines {
			t := started.Add(l.At)
			if t.After(until) {
				break
			}
			text := l.Text
			if l.Date {
				text = t.UTC().Format(DateFormat)
			}
			out = append(out, LogEntry{Time: t, Text: text})
		}
		return out
	}
	terminatedRun := func(t *corev1.ContainerStateTerminated) []LogEntry {
		if t.GetStartedAt() == nil {
			return nil
		}
		end := t.GetStartedAt().AsTime().Add(prog.Duration)
		if f := t.GetFinishedAt(); f != nil && f.AsTime().Before(end) {
			end = f.AsTime()
		}
		return run(t.GetStartedAt().AsTime(), end)
	}
	st := cs.GetState()
	if previous {
		t := cs.GetLastState().GetTerminated()
		if st.GetWaiting().GetReason() == ReasonCrashLoopBackOff && t == nil {
			t = st.GetTerminated()
		}
		if t == nil {
			return nil, false, fmt.Errorf("%w: previous terminated container %q in pod %q not found", ErrBadLogRequest, name, podName)
		}
		return terminatedRun(t), false, nil
	}
	switch {
	case st.GetRunning() != nil:
		return run(st.GetRunning().GetStartedAt().AsTime(), now), true, nil
	case st.GetTerminated() != nil:
		return terminatedRun(st.GetTerminated()), false, nil
	case st.GetWaiting().GetReason() == ReasonCrashLoopBackOff && cs.GetLastState().GetTerminated() != nil:
		// Like the kubelet: a crash-looping container's log is its last run's.
		return terminatedRun(cs.GetLastState().GetTerminated()), true, nil
	case st.GetWaiting().GetReason() == ReasonErrImagePull || st.GetWaiting().GetReason() == ReasonImagePullBackOff:
		return nil, false, fmt.Errorf("%w: container %q in pod %q is waiting to start: trying and failing to pull image", ErrBadLogRequest, name, podName)
	default:
		return nil, false, fmt.Errorf("%w: container %q in pod %q is waiting to start: %s", ErrBadLogRequest, name, podName, st.GetWaiting().GetReason())
	}
}

// NextLogLineAt is when the running container's next line after now is due
// (zero when none is).
func NextLogLineAt(p *corev1.Pod, name string, now time.Time, timeScale float64) time.Time {
	for _, c := range p.GetSpec().GetContainers() {
		if c.GetName() != name {
			continue
		}
		for _, cs := range p.GetStatus().GetContainerStatuses() {
			r := cs.GetState().GetRunning()
			if cs.GetName() != name || r == nil {
				continue
			}
			prog := ProgramFor(p, c).Scaled(timeScale)
			times := make([]time.Time, 0, len(prog.Lines))
			for _, l := range prog.Lines {
				times = append(times, r.GetStartedAt().AsTime().Add(l.At))
			}
			sort.Slice(times, func(a, b int) bool { return times[a].Before(times[b]) })
			for _, t := range times {
				if t.After(now) {
					return t
				}
			}
		}
	}
	return time.Time{}
}
