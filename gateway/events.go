package gateway

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// listEvents serves GET /api/v1/events and /api/v1/namespaces/{namespace}/events:
// every service records events about its own objects, so the list is the merge
// of every deployed backend's EventService.ListEvents (asked in parallel, with
// the request's fieldSelector), sorted by lastTimestamp, in recording order within a second. A backend
// that fails is left out with a warning; if all fail, the request fails. The list's
// resourceVersion is the merged one of its backends' (see mergedRV), from which a watch
// resumes.
func (g *gateway) listEvents(w http.ResponseWriter, r *http.Request, params map[string]string) {
	l, ok := g.mergedListOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	type answer struct {
		items []*corev1.Event
		rv    string
		err   error
	}
	answers := make([]answer, len(g.backends))
	var wg sync.WaitGroup
	for i, b := range g.backends {
		wg.Go(func() {
			rv, match := l.backend(b.name)
			req := &corev1.ListEventsRequest{
				Namespace: params["namespace"], LabelSelector: q.Get("labelSelector"), FieldSelector: q.Get("fieldSelector"),
				ResourceVersion: rv, ResourceVersionMatch: match,
			}
			resp, err := corev1.NewEventServiceClient(b.conn).ListEvents(r.Context(), req)
			answers[i] = answer{items: resp.GetItems(), rv: resp.GetMetadata().GetResourceVersion(), err: l.expired(err)}
		})
	}
	wg.Wait()

	pos := mergedRV{}
	var (
		items    []*corev1.Event
		firstErr error
		failed   int
	)
	for i, a := range answers {
		if expired(a.err) {
			g.writeError(w, r, a.err) // one backend's part of the snapshot is gone: so is the snapshot
			return
		}
		if a.err != nil {
			failed++
			if firstErr == nil {
				firstErr = a.err
			}
			g.log.WarnContext(r.Context(), "list events: backend skipped", "backend", g.backends[i].name, "err", a.err)
			continue
		}
		items = append(items, a.items...)
		pos[g.backends[i].name] = a.rv
	}
	if failed > 0 && failed == len(g.backends) {
		g.writeError(w, r, firstErr)
		return
	}
	sortEvents(items)
	items, meta := page(l, items, pos)
	g.writeMessage(w, r, http.StatusOK, &corev1.ListEventsResponse{
		ApiVersion: "v1",
		Kind:       "EventList",
		Metadata:   meta,
		Items:      items,
	})
}

// sortEvents orders events by lastTimestamp (or firstTimestamp, or creation time
// when unset). It is stable: events of the same second keep each backend's order,
// which is the order they were recorded in.
func sortEvents(items []*corev1.Event) {
	slices.SortStableFunc(items, func(a, b *corev1.Event) int {
		return eventTime(a).Compare(eventTime(b))
	})
}

func eventTime(e *corev1.Event) time.Time {
	for _, ts := range []*timestamppb.Timestamp{e.GetLastTimestamp(), e.GetFirstTimestamp(), e.GetMetadata().GetCreationTimestamp()} {
		if ts != nil {
			return ts.AsTime()
		}
	}
	return time.Time{}
}

// writeMessage answers msg with code, in the media type the client asked for.
func (g *gateway) writeMessage(w http.ResponseWriter, r *http.Request, code int, msg proto.Message) {
	m := g.outbound(r)
	body, err := m.Marshal(msg)
	if err != nil {
		g.writeError(w, r, newAPIError(ReasonInternalError, "encode response: "+err.Error()))
		return
	}
	w.Header().Set("Content-Type", m.ContentType(msg))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
