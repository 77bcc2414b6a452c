// Package events records Kubernetes Events about a service's objects (aggregated:
// a repeat of the same reason and message bumps count and lastTimestamp, like the
// client-go recorder) and serves them through podwarden.core.v1.EventService.
package events

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Event types.
const (
	Normal  = "Normal"
	Warning = "Warning"
)

// Kind is the stored Event kind.
// It is in the change log (so the watch cache serves its lists and watches) but sends no
// notification: the cache's feed picks an event up with the write it comes with, or
// within a second.
var Kind = store.Kind[*corev1.Event]{Name: "Event", Quiet: true, Watch: true, New: func() *corev1.Event { return &corev1.Event{} }}

// Ref builds the involvedObject reference of an object.
func Ref(apiVersion, kind string, m *corev1.ObjectMeta) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		ApiVersion: apiVersion, Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(),
		Uid: m.GetUid(), ResourceVersion: m.GetResourceVersion(),
	}
}

// Record stores an event about ref, in q's transaction.
func Record(ctx context.Context, q store.Querier, now time.Time, component string, ref *corev1.ObjectReference, typ, reason, message string) error {
	return RecordMany(ctx, q, now, []Rec{{Component: component, Ref: ref, Type: typ, Reason: reason, Message: message}})
}

// Rec is one event to record.
type Rec struct {
	Component             string
	Ref                   *corev1.ObjectReference
	Type, Reason, Message string
}

// name is the event's name: the object's, then a hash of what makes it a repeat
// (client-go's aggregation key: object, type, reason, message).
func (r Rec) name() (namespace, name string) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", r.Ref.GetUid(), r.Type, r.Reason, r.Message)
	namespace = r.Ref.GetNamespace()
	if namespace == "" {
		namespace = "default"
	}
	return namespace, fmt.Sprintf("%s.%x", r.Ref.GetName(), h.Sum64())
}

// RecordMany stores events in q's transaction: the new ones in one statement (most
// are new), then each repeat bumps its event's count and lastTimestamp.
func RecordMany(ctx context.Context, q store.Querier, now time.Time, recs []Rec) error {
	if len(recs) == 0 {
		return nil
	}
	ts := timestamppb.New(now.Truncate(time.Second))
	evs := make([]*corev1.Event, len(recs))
	for i, r := range recs {
		ns, name := r.name()
		evs[i] = &corev1.Event{
			ApiVersion: "v1", Kind: "Event",
			Metadata:       &corev1.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject: r.Ref, Reason: r.Reason, Message: r.Message, Type: r.Type,
			Source: &corev1.EventSource{Component: r.Component}, ReportingComponent: r.Component,
			FirstTimestamp: ts, LastTimestamp: ts, Count: 1,
		}
	}
	created, err := Kind.CreateMany(ctx, q, evs)
	if err != nil {
		return err
	}
	for i, ok := range created {
		if ok {
			continue
		}
		m := evs[i].GetMetadata()
		ev, err := Kind.Get(ctx, q, m.GetNamespace(), m.GetName())
		if err != nil {
			return err
		}
		ev.Count++
		ev.LastTimestamp = ts
		ev.Metadata.ResourceVersion = ""
		if _, err := Kind.Update(ctx, q, ev); err != nil {
			return err
		}
	}
	return nil
}

// Trim deletes events last seen before cutoff (Kubernetes keeps events for an hour).
// It finds them in the hub's cache of events (nothing is read from Postgres or decoded)
// and deletes them in statements of up to 1,000, each unless it was repeated meanwhile.
func Trim(ctx context.Context, db *store.DB, hub *watch.Hub, cutoff time.Time) error {
	cache := watch.For(hub, Kind, nil)
	if err := cache.Synced(ctx); err != nil {
		return err
	}
	var old []*corev1.Event
	for _, e := range cache.Select(store.ListOptions{}) {
		if e.GetLastTimestamp().AsTime().Before(cutoff) {
			old = append(old, e) // a repeat meanwhile changes its resourceVersion: it stays
		}
	}
	for len(old) > 0 {
		n := min(len(old), 1000)
		if _, err := Kind.DeleteMany(ctx, db.Pool, old[:n]); err != nil {
			return err
		}
		old = old[n:]
	}
	return nil
}

func rvOf(e *corev1.Event) int64 {
	v, _ := strconv.ParseInt(e.GetMetadata().GetResourceVersion(), 10, 64)
	return v
}

// Server implements EventService over a schema's events, from the service's watch cache.
type Server struct {
	corev1.UnimplementedEventServiceServer
	Hub *watch.Hub
}

// resource serves the events through crud (the watch cache, Kubernetes' list and watch
// semantics), with their field selectors (SelectableFields).
func (s *Server) resource() *crud.Resource[*corev1.Event] {
	return &crud.Resource[*corev1.Event]{
		Kind: Kind, APIVersion: "v1", KindName: "Event", Namespaced: true, Hub: s.Hub,
		GR: apierr.GroupResource{Resource: "events"}, GK: apierr.GroupKind{Kind: "Event"},
		TypeMeta: func(e *corev1.Event) (*string, *string) { return &e.ApiVersion, &e.Kind },
		Fields: func(e *corev1.Event) map[string]string {
			return SelectableFields(e)
		},
	}
}

// SelectableFields are an event's fields a field selector can name, as Kubernetes'
// event strategy's ToSelectableFields has them: the involvedObject's kind,
// namespace, name, uid, apiVersion (`kubectl events --for deployment/x` selects
// on it), resourceVersion and fieldPath, reason, reportingComponent, source (the
// source component, else the reporting controller) and type.
func SelectableFields(e *corev1.Event) map[string]string {
	o := e.GetInvolvedObject()
	source := e.GetSource().GetComponent()
	if source == "" {
		source = e.GetReportingComponent()
	}
	return map[string]string{
		"involvedObject.kind": o.GetKind(), "involvedObject.namespace": o.GetNamespace(),
		"involvedObject.name": o.GetName(), "involvedObject.uid": o.GetUid(),
		"involvedObject.apiVersion": o.GetApiVersion(), "involvedObject.resourceVersion": o.GetResourceVersion(),
		"involvedObject.fieldPath": o.GetFieldPath(),
		"reason":                   e.GetReason(), "reportingComponent": e.GetReportingComponent(), "source": source, "type": e.GetType(),
	}
}

// ListEvents lists events, oldest first, filtered by namespace and field selector.
func (s *Server) ListEvents(ctx context.Context, req *corev1.ListEventsRequest) (*corev1.ListEventsResponse, error) {
	res, err := s.resource().List(ctx, req.GetNamespace(), crud.ListOptions{LabelSelector: req.GetLabelSelector(), FieldSelector: req.GetFieldSelector(),
		ResourceVersion: req.GetResourceVersion(), ResourceVersionMatch: req.GetResourceVersionMatch()})
	if err != nil {
		return nil, err
	}
	out := res.Items
	// Timestamps have second precision: within a second, the order of recording.
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].GetLastTimestamp().AsTime(), out[j].GetLastTimestamp().AsTime()
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return rvOf(out[i]) < rvOf(out[j])
	})
	return &corev1.ListEventsResponse{ApiVersion: "v1", Kind: "EventList", Metadata: res.Meta, Items: out}, nil
}

// WatchEvents streams the events matching the request, with Kubernetes' watch semantics.
func (s *Server) WatchEvents(req *corev1.WatchEventsRequest, stream corev1.EventService_WatchEventsServer) error {
	return s.resource().ServeWatch(stream, req.GetNamespace(), req, func(typ string, e *corev1.Event) error {
		return stream.Send(&corev1.WatchEventsResponse{Type: typ, Object: e})
	})
}
