// Package events records Kubernetes Events about a service's objects (aggregated:
// a repeat of the same reason and message bumps count and lastTimestamp, like the
// client-go recorder) and serves them through podwarden.core.v1.EventService.
package events

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Event types.
const (
	Normal  = "Normal"
	Warning = "Warning"
)

// Kind is the stored Event kind.
var Kind = store.Kind[*corev1.Event]{Name: "Event", Quiet: true, New: func() *corev1.Event { return &corev1.Event{} }}

// Ref builds the involvedObject reference of an object.
func Ref(apiVersion, kind string, m *corev1.ObjectMeta) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		ApiVersion: apiVersion, Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(),
		Uid: m.GetUid(), ResourceVersion: m.GetResourceVersion(),
	}
}

// Record stores an event about ref, in q's transaction.
func Record(ctx context.Context, q store.Querier, now time.Time, component string, ref *corev1.ObjectReference, typ, reason, message string) error {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", ref.GetUid(), typ, reason, message)
	ns := ref.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	name := fmt.Sprintf("%s.%x", ref.GetName(), h.Sum64())
	ts := timestamppb.New(now.Truncate(time.Second))
	// Most events are new: try to create first (one round trip), count a repeat after.
	_, err := Kind.Create(ctx, q, &corev1.Event{
		ApiVersion: "v1", Kind: "Event",
		Metadata:       &corev1.ObjectMeta{Name: name, Namespace: ns},
		InvolvedObject: ref, Reason: reason, Message: message, Type: typ,
		Source: &corev1.EventSource{Component: component}, ReportingComponent: component,
		FirstTimestamp: ts, LastTimestamp: ts, Count: 1,
	})
	if !errors.Is(err, store.ErrAlreadyExists) {
		return err
	}
	ev, err := Kind.Get(ctx, q, ns, name)
	if err != nil {
		return err
	}
	ev.Count++
	ev.LastTimestamp = ts
	ev.Metadata.ResourceVersion = ""
	_, err = Kind.Update(ctx, q, ev)
	return err
}

// Trim deletes events last seen before cutoff (Kubernetes keeps events for an hour).
func Trim(ctx context.Context, q store.Querier, cutoff time.Time) error {
	evs, err := Kind.List(ctx, q, store.ListOptions{})
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.GetLastTimestamp().AsTime().Before(cutoff) {
			if _, err := Kind.Delete(ctx, q, e.Metadata.Namespace, e.Metadata.Name, e.Metadata.Uid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

func rvOf(e *corev1.Event) int64 {
	v, _ := strconv.ParseInt(e.GetMetadata().GetResourceVersion(), 10, 64)
	return v
}

// Server implements EventService over a schema's events.
type Server struct {
	corev1.UnimplementedEventServiceServer
	DB *store.DB
}

// ListEvents lists events, oldest first, filtered by namespace and field selector
// (involvedObject.name, involvedObject.kind, involvedObject.namespace, involvedObject.uid, reason, type).
func (s *Server) ListEvents(ctx context.Context, req *corev1.ListEventsRequest) (*corev1.ListEventsResponse, error) {
	sel, err := labels.ParseFieldSelector(req.GetFieldSelector())
	if err != nil {
		return nil, apierr.BadRequest(fmt.Sprintf("invalid field selector %q: %v", req.GetFieldSelector(), err))
	}
	evs, err := Kind.List(ctx, s.DB.Pool, store.ListOptions{Namespace: req.GetNamespace()})
	if err != nil {
		return nil, apierr.Internal(err)
	}
	out := evs[:0]
	for _, e := range evs {
		o := e.GetInvolvedObject()
		if labels.MatchFields(sel, map[string]string{
			"involvedObject.name": o.GetName(), "involvedObject.kind": o.GetKind(),
			"involvedObject.namespace": o.GetNamespace(), "involvedObject.uid": o.GetUid(),
			"reason": e.GetReason(), "type": e.GetType(), "metadata.name": e.GetMetadata().GetName(),
			"metadata.namespace": e.GetMetadata().GetNamespace(),
		}) {
			out = append(out, e)
		}
	}
	// Timestamps have second precision: within a second, the order of recording.
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].GetLastTimestamp().AsTime(), out[j].GetLastTimestamp().AsTime()
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return rvOf(out[i]) < rvOf(out[j])
	})
	rv, _ := store.CurrentRV(ctx, s.DB.Pool)
	return &corev1.ListEventsResponse{ApiVersion: "v1", Kind: "EventList",
		Metadata: &corev1.ListMeta{ResourceVersion: fmt.Sprint(rv)}, Items: out}, nil
}
