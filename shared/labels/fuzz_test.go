package labels

import (
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/fields"
	k8slabels "k8s.io/apimachinery/pkg/labels"
)

// FuzzParse: any ?labelSelector= string parses or fails without panicking; a
// parsed selector prints as a string that parses back to the same selector; and
// the equalities the store prefilters on hold in every label set it matches.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "app=nginx", "app==nginx,tier!=db", "tier in (web,api),!canary", "env notin (prod)",
		"app", "a.b/c-d_e=f", "x in ()", "a=b,a=c", "k>1", "k<2", "!", "app=,tier",
	} {
		f.Add(s, "app=nginx,tier=web")
	}
	f.Fuzz(func(t *testing.T, s, set string) {
		sel, err := Parse(s)
		if err != nil {
			return
		}
		str := sel.String()
		again, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, str, err)
		}
		if again.String() != str {
			t.Fatalf("Parse(%q): String %q reparses as %q", s, str, again.String())
		}
		ls, err := k8slabels.ConvertSelectorToLabelsMap(set)
		if err != nil || !sel.Matches(ls) {
			return
		}
		if !again.Matches(ls) {
			t.Fatalf("%q matches %v but its String %q does not", s, ls, str)
		}
		for k, v := range Equalities(sel) {
			if got, ok := ls[k]; !ok || got != v {
				t.Fatalf("%q matches %v, but its equality %s=%s does not hold (the store's prefilter would drop it)", s, ls, k, v)
			}
		}
	})
}

// FuzzParseFieldSelector: any ?fieldSelector= string parses or fails without
// panicking, and a parsed one prints as a string that parses back to the same
// requirements (in an order that may differ: "=0,= " reparses as "= ,=0").
func FuzzParseFieldSelector(f *testing.F) {
	for _, s := range []string{
		"", "metadata.name=x", "status.phase!=Running,spec.nodeName=node-1", "involvedObject.name==web",
		"a=b=c", `metadata.name=a\,b`, "x", "=", "a!=",
	} {
		f.Add(s, "status.phase", "Running")
	}
	f.Fuzz(func(t *testing.T, s, key, value string) {
		sel, err := ParseFieldSelector(s)
		if err != nil {
			return
		}
		str := sel.String()
		again, err := ParseFieldSelector(str)
		if err != nil {
			t.Fatalf("ParseFieldSelector(%q).String() = %q does not parse: %v", s, str, err)
		}
		if a, b := requirements(sel), requirements(again); !slices.Equal(a, b) {
			t.Fatalf("ParseFieldSelector(%q) = %v, but its String %q parses as %v", s, a, str, b)
		}
		fields := map[string]string{key: value}
		if MatchFields(sel, fields) != MatchFields(again, fields) {
			t.Fatalf("%q and its String %q disagree on %v", s, str, fields)
		}
	})
}

// requirements lists sel's requirements in a canonical order.
func requirements(sel fields.Selector) []string {
	var out []string
	for _, r := range sel.Requirements() {
		out = append(out, fmt.Sprintf("%q %s %q", r.Field, r.Operator, r.Value))
	}
	slices.Sort(out)
	return out
}
