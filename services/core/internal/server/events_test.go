package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func event(ns, involvedNS string, edit func(e *corev1.Event)) *corev1.Event {
	e := &corev1.Event{Metadata: &corev1.ObjectMeta{Name: "web.17a", Namespace: ns},
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: involvedNS, Name: "web"}, Reason: "Started", Type: "Normal"}
	if edit != nil {
		edit(e)
	}
	return e
}

func TestValidateEvent(t *testing.T) {
	newStyle := func(e *corev1.Event) {
		e.EventTime = proto.String("2026-12-07T18:49:27.123456Z")
		e.ReportingComponent, e.ReportingInstance, e.Action = "example.com/ctl", "ctl-0", "Reconcile"
	}
	tests := map[string]struct {
		e    *corev1.Event
		want []string
	}{
		"recorder event":            {e: event("team", "team", nil)},
		"cluster-scoped in default": {e: event("default", "", nil)},
		"namespace mismatch":        {e: event("team", "other", nil), want: []string{`involvedObject.namespace: Invalid value: "other": does not match event.namespace`}},
		"cluster-scoped in team":    {e: event("team", "", nil), want: []string{`involvedObject.namespace: Invalid value: "": does not match event.namespace`}},
		"new style":                 {e: event("team", "team", newStyle)},
		"new style, cluster-scoped": {e: event("kube-system", "", newStyle)},
		"new style without reporter": {e: event("team", "team", func(e *corev1.Event) { newStyle(e); e.ReportingComponent, e.ReportingInstance = "", "" }), want: []string{
			// Kubernetes checks the qualified name of an empty reporter too.
			"reportingComponent: Required value", `reportingComponent: Invalid value: "": name part must be non-empty`,
			`reportingComponent: Invalid value: "": name part must consist of`, "reportingInstance: Required value"}},
		"new style without action": {e: event("team", "team", func(e *corev1.Event) { newStyle(e); e.Action = "" }), want: []string{"action: Required value"}},
		"new style, long reason":   {e: event("team", "team", func(e *corev1.Event) { newStyle(e); e.Reason = strings.Repeat("r", 129) }), want: []string{`reason: Invalid value: "": can have at most 128 characters`}},
		"bad event time":           {e: event("team", "team", func(e *corev1.Event) { newStyle(e); e.EventTime = proto.String("now") }), want: []string{`eventTime: Invalid value: "now": must be an RFC 3339 time`}},
		"a series": {e: event("team", "team", func(e *corev1.Event) {
			newStyle(e)
			e.Series = &corev1.EventSeries{Count: 2, LastObservedTime: "2026-12-07T18:50:27.000001Z"}
		})},
		"a series seen once, with no time": {e: event("team", "team", func(e *corev1.Event) { newStyle(e); e.Series = &corev1.EventSeries{Count: 1} }),
			want: []string{"series.count: Invalid value: 1: should be at least 2", "series.lastObservedTime: Required value"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, e := range ValidateEvent(tc.e, nil, true) {
				got = append(got, e.Error())
			}
			checkErrs(t, got, tc.want)
		})
	}
}

func TestDefaultEventWritesMicroTime(t *testing.T) {
	e := event("team", "team", func(e *corev1.Event) { e.EventTime = proto.String("2026-12-07T18:49:27+02:00") })
	DefaultEvent(e)
	if e.GetEventTime() != "2026-12-07T16:49:27.000000Z" {
		t.Fatalf("eventTime %q", e.GetEventTime())
	}
}
