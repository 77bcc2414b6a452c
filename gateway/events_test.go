package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"github.com/podwarden/podwarden/shared/apierr"
)

func event(name, reason string, last time.Time, count int32) *corev1.Event {
	return &corev1.Event{
		ApiVersion: "v1", Kind: "Event",
		Metadata:       &corev1.ObjectMeta{Name: name, Namespace: "default", Generation: 3},
		InvolvedObject: &corev1.ObjectReference{Kind: "Deployment", Name: "nginx", Namespace: "default"},
		Reason:         reason,
		LastTimestamp:  timestamppb.New(last),
		Count:          count,
		Type:           "Normal",
	}
}

func TestEventsFanOut(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e.deployEvents.Items = []*corev1.Event{
		event("nginx.3", "ScalingReplicaSet", t0.Add(3*time.Second), 1),
		event("nginx.1", "ScalingReplicaSet", t0.Add(1*time.Second), 2),
	}
	e.nodeEvents.Items = []*corev1.Event{
		event("nginx-abc.b", "Scheduled", t0.Add(2*time.Second), 1),
		event("nginx-abc.a", "Pulled", t0.Add(2*time.Second), 1),
	}
	r := e.do(http.MethodGet, "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dnginx", "")
	r.wantCode(t, http.StatusOK)
	list := r.object(t)
	if list["kind"] != "EventList" || list["apiVersion"] != "v1" {
		t.Errorf("list header %s", r.body)
	}
	var names []string
	items, _ := list["items"].([]any)
	for _, it := range items {
		names = append(names, get(it, "metadata", "name").(string))
	}
	// Same second: the backend's order (the order it recorded them in), not by name.
	want := []string{"nginx.1", "nginx-abc.b", "nginx-abc.a", "nginx.3"}
	if len(names) != len(want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names %v, want %v (by lastTimestamp, then recording order)", names, want)
		}
	}
	if got := get(items[0], "count"); got != json.Number("2") {
		t.Errorf("count %v", got)
	}
	if got := get(items[0], "metadata", "generation"); got != json.Number("3") {
		t.Errorf("generation %v (%T), want a number", got, got)
	}
	for _, f := range []*fakeEvents{e.deployEvents, e.nodeEvents} {
		f.mu.Lock()
		if len(f.Requests) != 1 || f.Requests[0].GetNamespace() != "default" || f.Requests[0].GetFieldSelector() != "involvedObject.name=nginx" {
			t.Errorf("requests %v", f.Requests)
		}
		f.mu.Unlock()
	}
}

func TestEventsSkipAFailingBackend(t *testing.T) {
	e := newEnv(t)
	e.deployEvents.Items = []*corev1.Event{event("nginx.1", "ScalingReplicaSet", time.Unix(10, 0), 1)}
	e.nodeEvents.Err = status.Error(codes.Unavailable, "node service down")
	r := e.do(http.MethodGet, "/api/v1/events", "")
	r.wantCode(t, http.StatusOK)
	if items, _ := r.object(t)["items"].([]any); len(items) != 1 {
		t.Errorf("items %v", items)
	}

	e.deployEvents.Err = status.Error(codes.Unavailable, "deployment service down")
	e.do(http.MethodGet, "/api/v1/events", "").wantStatus(t, http.StatusServiceUnavailable, ReasonServiceUnavailable)
}

func TestEventsEmptyListIsAList(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/api/v1/namespaces/default/events", "")
	r.wantCode(t, http.StatusOK)
	obj := r.object(t)
	if items, ok := obj["items"].([]any); obj["kind"] != "EventList" || obj["metadata"] == nil || !ok || len(items) != 0 {
		t.Errorf("empty list %s", r.body)
	}
}

// TestEventsPagedThroughOneSnapshot: a merged list with a limit pages through one
// snapshot: the continue token carries every backend's resourceVersion, and the next
// page asks each backend for exactly that state; a token whose state a backend no
// longer has is 410 Expired with Kubernetes' message, a malformed one 400.
func TestEventsPagedThroughOneSnapshot(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e.deployEvents.RV = "12"
	e.deployEvents.Items = []*corev1.Event{event("d.1", "A", t0.Add(1*time.Second), 1), event("d.3", "A", t0.Add(3*time.Second), 1)}
	e.nodeEvents.RV = "40"
	e.nodeEvents.Items = []*corev1.Event{event("n.2", "B", t0.Add(2*time.Second), 1), event("n.4", "B", t0.Add(4*time.Second), 1),
		event("n.5", "B", t0.Add(5*time.Second), 1)}
	var names []string
	pages := 0
	path := "/api/v1/events?limit=2"
	for {
		r := e.do(http.MethodGet, path, "")
		r.wantCode(t, http.StatusOK)
		list := r.object(t)
		items, _ := list["items"].([]any)
		for _, it := range items {
			names = append(names, get(it, "metadata", "name").(string))
		}
		pages++
		if rv := get(list, "metadata", "resourceVersion"); rv != "deployment=12,node=40" {
			t.Fatalf("page %d resourceVersion %v", pages, rv)
		}
		cont, _ := get(list, "metadata", "continue").(string)
		if cont == "" {
			if get(list, "metadata", "remainingItemCount") != nil {
				t.Errorf("last page with remainingItemCount: %s", r.body)
			}
			break
		}
		if want := json.Number(fmt.Sprint(5 - 2*pages)); get(list, "metadata", "remainingItemCount") != want {
			t.Errorf("page %d remainingItemCount %v, want %v", pages, get(list, "metadata", "remainingItemCount"), want)
		}
		path = "/api/v1/events?limit=2&continue=" + cont
	}
	if fmt.Sprint(names) != "[d.1 n.2 d.3 n.4 n.5]" || pages != 3 {
		t.Fatalf("%d pages of %v", pages, names)
	}
	for _, f := range []*fakeEvents{e.deployEvents, e.nodeEvents} {
		f.mu.Lock()
		last := f.Requests[len(f.Requests)-1]
		if last.GetResourceVersion() != f.RV || last.GetResourceVersionMatch() != "Exact" {
			t.Errorf("a continued page asked for %q (%s), want %s exactly", last.GetResourceVersion(), last.GetResourceVersionMatch(), f.RV)
		}
		f.mu.Unlock()
	}

	first := e.do(http.MethodGet, "/api/v1/events?limit=2", "").object(t)
	cont := get(first, "metadata", "continue").(string)
	e.nodeEvents.Err = apierr.Expired("too old resource version: 40 (90)")
	r := e.do(http.MethodGet, "/api/v1/events?limit=2&continue="+cont, "")
	r.wantStatus(t, http.StatusGone, ReasonExpired)
	if msg := r.object(t)["message"]; msg != continueExpired {
		t.Errorf("expired continue: %v", msg)
	}
	e.nodeEvents.Err = nil
	e.do(http.MethodGet, "/api/v1/events?continue=bogus", "").wantStatus(t, http.StatusBadRequest, ReasonBadRequest)
	e.do(http.MethodGet, "/api/v1/events?resourceVersion=5&continue="+cont, "").wantStatus(t, http.StatusBadRequest, ReasonBadRequest)
}
