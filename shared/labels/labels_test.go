package labels

import (
	"testing"

	k8slabels "k8s.io/apimachinery/pkg/labels"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func req(key, op string, values ...string) *corev1.LabelSelectorRequirement {
	return &corev1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
}

func TestFromProto(t *testing.T) {
	tests := map[string]struct {
		sel       *corev1.LabelSelector
		labels    map[string]string
		wantMatch bool
		wantStr   string
		wantErr   bool
	}{
		"nil selects nothing": {
			sel:       nil,
			labels:    map[string]string{"app": "a"},
			wantMatch: false,
			wantStr:   "",
		},
		"empty selects everything": {
			sel:       &corev1.LabelSelector{},
			labels:    map[string]string{"app": "a"},
			wantMatch: true,
			wantStr:   "",
		},
		"empty selects unlabelled": {
			sel:       &corev1.LabelSelector{},
			labels:    nil,
			wantMatch: true,
		},
		"matchLabels match": {
			sel:       &corev1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			labels:    map[string]string{"app": "nginx", "pod-template-hash": "x"},
			wantMatch: true,
			wantStr:   "app=nginx",
		},
		"matchLabels mismatch": {
			sel:       &corev1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			labels:    map[string]string{"app": "two"},
			wantMatch: false,
			wantStr:   "app=nginx",
		},
		"In": {
			sel:       &corev1.LabelSelector{MatchExpressions: []*corev1.LabelSelectorRequirement{req("tier", "In", "b", "a")}},
			labels:    map[string]string{"tier": "a"},
			wantMatch: true,
			wantStr:   "tier in (a,b)",
		},
		"NotIn with absent key matches": {
			sel:       &corev1.LabelSelector{MatchExpressions: []*corev1.LabelSelectorRequirement{req("tier", "NotIn", "a")}},
			labels:    map[string]string{},
			wantMatch: true,
			wantStr:   "tier notin (a)",
		},
		"Exists": {
			sel:       &corev1.LabelSelector{MatchExpressions: []*corev1.LabelSelectorRequirement{req("canary", "Exists")}},
			labels:    map[string]string{"app": "a"},
			wantMatch: false,
			wantStr:   "canary",
		},
		"DoesNotExist": {
			sel:       &corev1.LabelSelector{MatchExpressions: []*corev1.LabelSelectorRequirement{req("canary", "DoesNotExist")}},
			labels:    map[string]string{"app": "a"},
			wantMatch: true,
			wantStr:   "!canary",
		},
		"labels and expressions sorted by key": {
			sel: &corev1.LabelSelector{
				MatchLabels:      map[string]string{"b": "2", "a": "1"},
				MatchExpressions: []*corev1.LabelSelectorRequirement{req("c", "In", "x")},
			},
			labels:    map[string]string{"a": "1", "b": "2", "c": "x"},
			wantMatch: true,
			wantStr:   "a=1,b=2,c in (x)",
		},
		"unknown operator": {
			sel:     &corev1.LabelSelector{MatchExpressions: []*corev1.LabelSelectorRequirement{req("a", "Gt", "1")}},
			wantErr: true,
		},
		"In without values": {
			sel:     &corev1.LabelSelector{MatchExpressions: []*corev1.LabelSelectorRequirement{req("a", "In")}},
			wantErr: true,
		},
		"invalid key": {
			sel:     &corev1.LabelSelector{MatchLabels: map[string]string{"bad key": "x"}},
			wantErr: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel, err := FromProto(tc.sel)
			if (err != nil) != tc.wantErr {
				t.Fatalf("FromProto err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if Matches(tc.sel, tc.labels) {
					t.Errorf("Matches on an invalid selector = true")
				}
				if got := String(tc.sel); got != "" {
					t.Errorf("String on an invalid selector = %q", got)
				}
				return
			}
			if got := Matches(tc.sel, tc.labels); got != tc.wantMatch {
				t.Errorf("Matches = %v, want %v", got, tc.wantMatch)
			}
			if got := String(tc.sel); got != tc.wantStr {
				t.Errorf("String = %q, want %q", got, tc.wantStr)
			}
			if got := sel.String(); got != tc.wantStr {
				t.Errorf("selector.String = %q, want %q", got, tc.wantStr)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := map[string]struct {
		query     string
		labels    map[string]string
		wantMatch bool
		wantErr   bool
	}{
		"empty selects everything": {query: "", labels: map[string]string{"x": "y"}, wantMatch: true},
		"equality":                 {query: "app=a", labels: map[string]string{"app": "a"}, wantMatch: true},
		"double equals":            {query: "a==b", labels: map[string]string{"a": "b"}, wantMatch: true},
		"not equals absent key":    {query: "a!=b", labels: map[string]string{}, wantMatch: true},
		"not equals same":          {query: "a!=b", labels: map[string]string{"a": "b"}, wantMatch: false},
		"set and negation": {
			query:     "app=a,tier in (x,y),!canary",
			labels:    map[string]string{"app": "a", "tier": "y"},
			wantMatch: true,
		},
		"negation fails": {
			query:     "app=a,tier in (x,y),!canary",
			labels:    map[string]string{"app": "a", "tier": "y", "canary": "true"},
			wantMatch: false,
		},
		"notin":        {query: "tier notin (x)", labels: map[string]string{"tier": "x"}, wantMatch: false},
		"syntax error": {query: "app in (", wantErr: true},
		"bad key":      {query: "-bad=x", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel, err := Parse(tc.query)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got := sel.Matches(k8slabels.Set(tc.labels)); got != tc.wantMatch {
				t.Errorf("Matches = %v, want %v", got, tc.wantMatch)
			}
		})
	}
}

func TestFromMap(t *testing.T) {
	tests := map[string]struct {
		m         map[string]string
		labels    map[string]string
		wantMatch bool
		wantStr   string
	}{
		"nil map selects everything": {m: nil, labels: map[string]string{"a": "b"}, wantMatch: true, wantStr: ""},
		"map":                        {m: map[string]string{"app": "rc"}, labels: map[string]string{"app": "rc"}, wantMatch: true, wantStr: "app=rc"},
		"map mismatch":               {m: map[string]string{"app": "rc"}, labels: map[string]string{"app": "x"}, wantMatch: false, wantStr: "app=rc"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := FromMap(tc.m)
			if s == nil {
				t.Fatal("FromMap returned nil")
			}
			if got := Matches(s, tc.labels); got != tc.wantMatch {
				t.Errorf("Matches = %v, want %v", got, tc.wantMatch)
			}
			if got := String(s); got != tc.wantStr {
				t.Errorf("String = %q, want %q", got, tc.wantStr)
			}
		})
	}
	// the selector does not alias the map
	m := map[string]string{"app": "a"}
	s := FromMap(m)
	m["app"] = "b"
	if s.GetMatchLabels()["app"] != "a" {
		t.Errorf("FromMap aliases its argument")
	}
}

func TestFieldSelector(t *testing.T) {
	tests := map[string]struct {
		query     string
		fields    map[string]string
		wantMatch bool
		wantErr   bool
	}{
		"empty":           {query: "", fields: map[string]string{"metadata.name": "x"}, wantMatch: true},
		"equals":          {query: "involvedObject.name=nginx", fields: map[string]string{"involvedObject.name": "nginx"}, wantMatch: true},
		"equals mismatch": {query: "involvedObject.name=nginx", fields: map[string]string{"involvedObject.name": "other"}, wantMatch: false},
		"not equals":      {query: "status.phase!=Running", fields: map[string]string{"status.phase": "Pending"}, wantMatch: true},
		"and":             {query: "spec.nodeName=n1,status.phase=Running", fields: map[string]string{"spec.nodeName": "n1", "status.phase": "Pending"}, wantMatch: false},
		"double equals":   {query: "metadata.name==x", fields: map[string]string{"metadata.name": "x"}, wantMatch: true},
		"invalid":         {query: "metadata.name", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel, err := ParseFieldSelector(tc.query)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseFieldSelector err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got := MatchFields(sel, tc.fields); got != tc.wantMatch {
				t.Errorf("MatchFields = %v, want %v", got, tc.wantMatch)
			}
		})
	}
	if !MatchFields(nil, map[string]string{"a": "b"}) {
		t.Errorf("MatchFields(nil) = false, want true")
	}
}

func TestToMetaCopies(t *testing.T) {
	s := &corev1.LabelSelector{
		MatchLabels:      map[string]string{"a": "1"},
		MatchExpressions: []*corev1.LabelSelectorRequirement{req("b", "In", "x")},
	}
	m := ToMeta(s)
	m.MatchLabels["a"] = "2"
	m.MatchExpressions[0].Values[0] = "y"
	if s.MatchLabels["a"] != "1" || s.MatchExpressions[0].Values[0] != "x" {
		t.Errorf("ToMeta aliases its argument")
	}
	if ToMeta(nil) != nil {
		t.Errorf("ToMeta(nil) != nil")
	}
}
