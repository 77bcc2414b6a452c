package server

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/services/node/internal/sim"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// LogSource gives the log of containers a real runtime runs (the exec
// runtime); ok is false for containers it does not know, which then get the
// simulated log.
type LogSource interface {
	Log(pod *corev1.Pod, container string, previous bool) (entries []sim.LogEntry, more bool, ok bool)
}

// PodLogServer implements PodLogService: `kubectl logs` over the pods the node
// service runs.
type PodLogServer struct {
	nodev1.UnimplementedPodLogServiceServer
	Deps
	// TimeScale is the sim's time scale (programs' line times depend on it).
	TimeScale float64
	// Exec, when set, serves the logs of really executed containers.
	Exec LogSource
	// Poll is how often a follow re-reads the pod (default 200ms).
	Poll time.Duration
}

func (s *PodLogServer) read(ctx context.Context, ns, name, container string, previous bool) ([]sim.LogEntry, bool, string, error) {
	p, err := repo.Pods.Get(ctx, s.DB.Pool, ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, "", apierr.NotFound(podsGR, name)
	}
	if err != nil {
		return nil, false, "", apierr.Internal(err)
	}
	c, err := sim.ContainerName(p, container)
	if err != nil {
		return nil, false, "", apierr.BadRequest(strings.TrimPrefix(err.Error(), sim.ErrBadLogRequest.Error()+": "))
	}
	if s.Exec != nil {
		if entries, more, ok := s.Exec.Log(p, c, previous); ok {
			return entries, more, c, nil
		}
	}
	entries, more, err := sim.ContainerLog(p, c, previous, s.now(), s.TimeScale)
	if err != nil {
		return nil, false, c, apierr.BadRequest(strings.TrimPrefix(err.Error(), sim.ErrBadLogRequest.Error()+": "))
	}
	return entries, more, c, nil
}

// GetPodLog streams the log: what is there now (the last tailLines lines),
// then, with follow, each new line until the container stops.
func (s *PodLogServer) GetPodLog(req *nodev1.GetPodLogRequest, stream nodev1.PodLogService_GetPodLogServer) error {
	ctx := stream.Context()
	ns := req.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	if req.TailLines != nil && req.GetTailLines() < 0 {
		return apierr.BadRequest("tailLines: Invalid value: must be greater than or equal to 0")
	}
	entries, more, container, err := s.read(ctx, ns, req.GetName(), req.GetContainer(), req.GetPrevious())
	if err != nil {
		return err
	}
	sent := 0
	if req.TailLines != nil && int64(len(entries)) > req.GetTailLines() {
		sent = len(entries) - int(req.GetTailLines())
	}
	send := func(list []sim.LogEntry) error {
		if len(list) == 0 {
			return nil
		}
		var b strings.Builder
		for _, e := range list {
			if req.GetTimestamps() {
				b.WriteString(e.Time.UTC().Format(time.RFC3339Nano))
				b.WriteByte(' ')
			}
			b.WriteString(e.Text)
			b.WriteByte('\n')
		}
		return stream.Send(&nodev1.GetPodLogResponse{Content: b.String()})
	}
	if err := send(entries[sent:]); err != nil {
		return err
	}
	sent = len(entries)
	poll := s.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	for req.GetFollow() && more && !req.GetPrevious() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
		entries, more, _, err = s.read(ctx, ns, req.GetName(), container, false)
		if err != nil {
			// The pod is gone or restarting: the stream ends, as kubectl's does.
			return nil
		}
		if len(entries) < sent {
			sent = 0 // a new incarnation
		}
		if err := send(entries[sent:]); err != nil {
			return err
		}
		sent = len(entries)
	}
	return nil
}
