package events

import (
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// TestSelectableFields: the field selectors kubectl sends select the events they
// should (`kubectl events --for deployment/web` adds involvedObject.apiVersion).
func TestSelectableFields(t *testing.T) {
	recorded := &corev1.Event{
		InvolvedObject: &corev1.ObjectReference{ApiVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: "web", Uid: "u1", FieldPath: "spec"},
		Reason:         "ScalingReplicaSet", Type: Normal, Source: &corev1.EventSource{Component: "deployment-controller"},
	}
	posted := &corev1.Event{
		InvolvedObject:     &corev1.ObjectReference{ApiVersion: "v1", Kind: "Pod", Namespace: "default", Name: "p"},
		ReportingComponent: "my-controller", Type: Warning,
	}
	tests := map[string]struct {
		ev       *corev1.Event
		selector string
		want     bool
	}{
		"kubectl events --for":        {ev: recorded, selector: "involvedObject.kind=Deployment,involvedObject.name=web,involvedObject.apiVersion=apps/v1", want: true},
		"other apiVersion":            {ev: recorded, selector: "involvedObject.apiVersion=extensions/v1beta1", want: false},
		"fieldPath":                   {ev: recorded, selector: "involvedObject.fieldPath=spec", want: true},
		"source is the component":     {ev: recorded, selector: "source=deployment-controller", want: true},
		"source falls back":           {ev: posted, selector: "source=my-controller", want: true},
		"reportingComponent":          {ev: posted, selector: "reportingComponent=my-controller", want: true},
		"type":                        {ev: posted, selector: "type!=Warning", want: false},
		"no reportingComponent empty": {ev: recorded, selector: "reportingComponent=", want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel, err := fields.ParseSelector(tc.selector)
			if err != nil {
				t.Fatal(err)
			}
			if got := sel.Matches(fields.Set(SelectableFields(tc.ev))); got != tc.want {
				t.Errorf("%s matches = %v, want %v", tc.selector, got, tc.want)
			}
		})
	}
}
