package scheduling

import (
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func TestMatchNodeSelectorTerm(t *testing.T) {
	node := &nodev1.Node{Metadata: &corev1.ObjectMeta{Name: "node-1", Labels: map[string]string{"zone": "a", "gen": "5"}}}
	req := func(key, op string, values ...string) *corev1.NodeSelectorRequirement {
		return &corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	cases := map[string]struct {
		term *corev1.NodeSelectorTerm
		want bool
	}{
		"In match":                {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", "In", "a", "b")}}, want: true},
		"In no match":             {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", "In", "b")}}, want: false},
		"In missing label":        {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("rack", "In", "a")}}, want: false},
		"NotIn match":             {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", "NotIn", "b")}}, want: true},
		"NotIn missing label":     {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("rack", "NotIn", "b")}}, want: true},
		"NotIn no match":          {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", "NotIn", "a")}}, want: false},
		"Exists":                  {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", "Exists")}}, want: true},
		"DoesNotExist":            {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", "DoesNotExist")}}, want: false},
		"Gt":                      {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("gen", "Gt", "4")}}, want: true},
		"Gt equal":                {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("gen", "Gt", "5")}}, want: false},
		"Lt":                      {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("gen", "Lt", "6")}}, want: true},
		"Lt not a number":         {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", "Lt", "6")}}, want: false},
		"all requirements ANDed":  {term: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{req("zone", "In", "a"), req("gen", "Lt", "5")}}, want: false},
		"matchFields name In":     {term: &corev1.NodeSelectorTerm{MatchFields: []*corev1.NodeSelectorRequirement{req("metadata.name", "In", "node-1")}}, want: true},
		"matchFields name NotIn":  {term: &corev1.NodeSelectorTerm{MatchFields: []*corev1.NodeSelectorRequirement{req("metadata.name", "NotIn", "node-1")}}, want: false},
		"matchFields other field": {term: &corev1.NodeSelectorTerm{MatchFields: []*corev1.NodeSelectorRequirement{req("metadata.uid", "In", "x")}}, want: false},
		"empty term":              {term: &corev1.NodeSelectorTerm{}, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := MatchNodeSelectorTerm(tc.term, node); got != tc.want {
				t.Errorf("MatchNodeSelectorTerm = %v, want %v", got, tc.want)
			}
		})
	}
}
