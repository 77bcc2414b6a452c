package server

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/validation"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Kubernetes' limits on an Event's strings (pkg/apis/core/validation).
const (
	reportingInstanceLengthLimit = 128
	actionLengthLimit            = 128
	reasonLengthLimit            = 128
	noteLengthLimit              = 1024
)

// EventResource describes the core/v1 Events clients post, stored as the
// service's own events (shared/events' kind), so the service's EventService
// lists and watches them with the rest.
func EventResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*corev1.Event] {
	return &crud.Resource[*corev1.Event]{
		Kind: events.Kind, APIVersion: "v1", KindName: "Event", Namespaced: true,
		GR: apierr.GroupResource{Resource: "events"}, GK: apierr.GroupKind{Kind: "Event"},
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(e *corev1.Event) (*string, *string) { return &e.ApiVersion, &e.Kind },
		Default:  DefaultEvent,
		Validate: ValidateEvent,
	}
}

// DefaultEvent writes eventTime and series.lastObservedTime as MicroTime (UTC,
// six fractional digits).
func DefaultEvent(e *corev1.Event) {
	if e.EventTime != nil {
		if t, err := ParseMicroTime(e.GetEventTime()); err == nil {
			*e.EventTime = FormatMicroTime(t)
		}
	}
	if s := e.GetSeries(); s != nil {
		if t, err := ParseMicroTime(s.GetLastObservedTime()); err == nil {
			s.LastObservedTime = FormatMicroTime(t)
		}
	}
}

// ValidateEvent is Kubernetes' ValidateEventCreate/ValidateEventUpdate for core/v1
// (legacyValidateEvent): an event without eventTime is in the namespace of its
// involvedObject ("default" for cluster-scoped ones); one with eventTime names its
// reporter (reportingComponent, reportingInstance), action and reason within
// their length limits, and a series seen at least twice, with its last time.
func ValidateEvent(e, old *corev1.Event, create bool) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if create {
		errs = validation.ValidateObjectMeta(e.GetMetadata(), true, validation.NameIsDNSSubdomain, meta)
	} else {
		errs = validation.ValidateObjectMetaUpdate(e.GetMetadata(), old.GetMetadata(), meta)
	}
	ns, involvedNS := e.GetMetadata().GetNamespace(), e.GetInvolvedObject().GetNamespace()
	nsPath := field.NewPath("involvedObject", "namespace")
	if e.EventTime == nil {
		if involvedNS == "" && ns != "" && ns != "default" || involvedNS != "" && ns != involvedNS {
			errs = append(errs, field.Invalid(nsPath, involvedNS, "does not match event.namespace"))
		}
	} else {
		if _, err := ParseMicroTime(e.GetEventTime()); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("eventTime"), e.GetEventTime(), "must be an RFC 3339 time"))
		}
		if involvedNS == "" && ns != "default" && ns != "kube-system" {
			errs = append(errs, field.Invalid(nsPath, involvedNS, "does not match event.namespace"))
		}
		rc := field.NewPath("reportingComponent")
		if e.GetReportingComponent() == "" {
			errs = append(errs, field.Required(rc, ""))
		}
		for _, msg := range k8svalidation.IsQualifiedName(e.GetReportingComponent()) {
			errs = append(errs, field.Invalid(rc, e.GetReportingComponent(), msg))
		}
		errs = append(errs, requiredWithin(e.GetReportingInstance(), reportingInstanceLengthLimit, field.NewPath("reportingInstance"))...)
		errs = append(errs, requiredWithin(e.GetAction(), actionLengthLimit, field.NewPath("action"))...)
		errs = append(errs, requiredWithin(e.GetReason(), reasonLengthLimit, field.NewPath("reason"))...)
		if s := e.GetSeries(); s != nil {
			sp := field.NewPath("series")
			if s.GetCount() < 2 {
				errs = append(errs, field.Invalid(sp.Child("count"), s.GetCount(), "should be at least 2"))
			}
			if _, err := ParseMicroTime(s.GetLastObservedTime()); err != nil {
				errs = append(errs, field.Required(sp.Child("lastObservedTime"), ""))
			}
		}
		if len(e.GetMessage()) > noteLengthLimit {
			errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", noteLengthLimit)))
		}
	}
	return errs
}

func requiredWithin(v string, limit int, fp *field.Path) field.ErrorList {
	switch {
	case v == "":
		return field.ErrorList{field.Required(fp, "")}
	case len(v) > limit:
		return field.ErrorList{field.Invalid(fp, "", fmt.Sprintf("can have at most %v characters", limit))}
	}
	return nil
}

// EventWriteServer implements EventWriteService.
type EventWriteServer struct {
	corev1.UnimplementedEventWriteServiceServer
	R *crud.Resource[*corev1.Event]
}

func eventRequired(e *corev1.Event) error {
	if e == nil {
		return apierr.BadRequest("an Event is required in the request body")
	}
	return nil
}

// CreateEvent stores an Event.
func (s *EventWriteServer) CreateEvent(ctx context.Context, req *corev1.CreateEventRequest) (*corev1.CreateEventResponse, error) {
	if err := eventRequired(req.GetEvent()); err != nil {
		return nil, err
	}
	out, err := s.R.Create(ctx, req.GetNamespace(), req.GetEvent(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.CreateEventResponse{Event: out}, nil
}

// GetEvent returns one Event.
func (s *EventWriteServer) GetEvent(ctx context.Context, req *corev1.GetEventRequest) (*corev1.GetEventResponse, error) {
	out, err := s.R.Get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &corev1.GetEventResponse{Event: out}, nil
}

// UpdateEvent replaces an Event.
func (s *EventWriteServer) UpdateEvent(ctx context.Context, req *corev1.UpdateEventRequest) (*corev1.UpdateEventResponse, error) {
	if err := eventRequired(req.GetEvent()); err != nil {
		return nil, err
	}
	out, err := s.R.Update(ctx, req.GetNamespace(), req.GetName(), proto.Clone(req.GetEvent()).(*corev1.Event), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &corev1.UpdateEventResponse{Event: out}, nil
}

// DeleteEvent deletes an Event.
func (s *EventWriteServer) DeleteEvent(ctx context.Context, req *corev1.DeleteEventRequest) (*corev1.DeleteEventResponse, error) {
	st, _, err := s.R.Delete(ctx, req.GetNamespace(), req.GetName(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &corev1.DeleteEventResponse{Status: st}, nil
}
