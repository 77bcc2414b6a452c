// Package labels adapts Kubernetes' label and field selectors
// (k8s.io/apimachinery/pkg/labels and pkg/fields) to podwarden's proto types.
//
// Every function here has the exact semantics of its apimachinery counterpart:
// a selector built from a proto LabelSelector behaves like
// metav1.LabelSelectorAsSelector, a query string parses like kube-apiserver's
// ?labelSelector= and ?fieldSelector=.
package labels

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// ToMeta converts a proto LabelSelector to apimachinery's metav1.LabelSelector
// (nil stays nil). The result shares no memory with s.
func ToMeta(s *corev1.LabelSelector) *metav1.LabelSelector {
	if s == nil {
		return nil
	}
	out := &metav1.LabelSelector{}
	if len(s.GetMatchLabels()) > 0 {
		out.MatchLabels = make(map[string]string, len(s.GetMatchLabels()))
		for k, v := range s.GetMatchLabels() {
			out.MatchLabels[k] = v
		}
	}
	for _, e := range s.GetMatchExpressions() {
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
			Key:      e.GetKey(),
			Operator: metav1.LabelSelectorOperator(e.GetOperator()),
			Values:   append([]string(nil), e.GetValues()...),
		})
	}
	return out
}

// FromProto turns a proto LabelSelector into a labels.Selector exactly like
// metav1.LabelSelectorAsSelector: nil selects nothing, an empty selector
// selects everything, matchLabels are Equals requirements and
// matchExpressions take In, NotIn, Exists and DoesNotExist.
func FromProto(s *corev1.LabelSelector) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(ToMeta(s))
}

// Parse parses a ?labelSelector= query string ("app=a,tier in (x,y),!canary",
// "a!=b", "a==b"). The empty string selects everything.
func Parse(s string) (labels.Selector, error) {
	return labels.Parse(s)
}

// Matches reports whether the labels l satisfy the selector s. A nil selector
// matches nothing and an invalid selector matches nothing.
func Matches(s *corev1.LabelSelector, l map[string]string) bool {
	sel, err := FromProto(s)
	if err != nil {
		return false
	}
	return sel.Matches(labels.Set(l))
}

// String renders the selector the way Kubernetes shows it in
// Scale.status.selector ("app=nginx", "app=nginx,tier in (a,b)"); requirements
// are sorted by key. Nil, empty and invalid selectors render as "".
func String(s *corev1.LabelSelector) string {
	sel, err := FromProto(s)
	if err != nil {
		return ""
	}
	return sel.String()
}

// FromMap builds the LabelSelector equivalent of a map selector (a
// ReplicationController's spec.selector). The result is never nil: an empty
// map gives an empty selector, which selects everything, as
// labels.SelectorFromSet does.
func FromMap(m map[string]string) *corev1.LabelSelector {
	out := &corev1.LabelSelector{}
	if len(m) > 0 {
		out.MatchLabels = make(map[string]string, len(m))
		for k, v := range m {
			out.MatchLabels[k] = v
		}
	}
	return out
}

// ParseFieldSelector parses a ?fieldSelector= query string
// ("metadata.name=x,status.phase!=Running"). The empty string selects everything.
func ParseFieldSelector(s string) (fields.Selector, error) {
	return fields.ParseSelector(s)
}

// MatchFields reports whether the field set f satisfies sel. A nil selector
// matches everything.
func MatchFields(sel fields.Selector, f map[string]string) bool {
	if sel == nil {
		return true
	}
	return sel.Matches(fields.Set(f))
}

// Equalities returns the key=value requirements of sel (`a=b`, `a==b`, `a in (b)`), nil
// when there are none: what the store can match in SQL with an index-friendly jsonb
// containment before the full selector is applied to the rows it returns.
func Equalities(sel labels.Selector) map[string]string {
	reqs, _ := sel.Requirements()
	var out map[string]string
	for _, r := range reqs {
		op := r.Operator()
		if (op == selection.Equals || op == selection.DoubleEquals || op == selection.In) && r.Values().Len() == 1 {
			if out == nil {
				out = map[string]string{}
			}
			out[r.Key()] = r.Values().List()[0]
		}
	}
	return out
}
