package validation

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	pwlabels "github.com/podwarden/podwarden/shared/labels"
)

func namesField(t *testing.T, errs field.ErrorList) {
	t.Helper()
	for _, e := range errs {
		if e.Field == "" {
			t.Fatalf("error names no field: %v", e)
		}
	}
}

// FuzzLabelSelector: validation of a LabelSelector never panics, names the
// field of each error, and a selector it accepts converts to a working
// labels.Selector (what the controllers match pods with) that matches its own
// matchLabels when it has no expressions.
func FuzzLabelSelector(f *testing.F) {
	f.Add("app", "nginx", "tier", "In", "web,api")
	f.Add("app", "nginx", "canary", "DoesNotExist", "")
	f.Add("example.com/app", "x", "env", "NotIn", "prod")
	f.Add("", "", "k", "Exists", "v")
	f.Add("a", "b", "k", "Gt", "1")
	f.Fuzz(func(t *testing.T, labelKey, labelValue, exprKey, op, values string) {
		s := &corev1.LabelSelector{MatchLabels: map[string]string{labelKey: labelValue}}
		if exprKey != "" || op != "" {
			var vs []string
			if values != "" {
				vs = strings.Split(values, ",")
			}
			s.MatchExpressions = []*corev1.LabelSelectorRequirement{{Key: exprKey, Operator: op, Values: vs}}
		}
		errs := ValidateLabelSelector(s, field.NewPath("spec", "selector"))
		namesField(t, errs)
		sel, err := pwlabels.FromProto(s)
		if len(errs) > 0 {
			return
		}
		if err != nil {
			t.Fatalf("valid selector %v does not convert: %v", s, err)
		}
		if len(s.MatchExpressions) == 0 && !sel.Matches(labels.Set(s.MatchLabels)) {
			t.Fatalf("selector %v does not match its own labels", s)
		}
		if _, err := pwlabels.Parse(sel.String()); err != nil {
			t.Fatalf("valid selector %v prints as %q, which does not parse: %v", s, sel.String(), err)
		}
	})
}

// FuzzIntOrString: an IntOrString (number or string Value) that validation
// accepts scales without error; nothing panics; errors name the field.
func FuzzIntOrString(f *testing.F) {
	for _, s := range []string{"25%", "0%", "100%", "150%", "5", "-1%", "%", "1.5%", "abc", " 5%", "2147483648%"} {
		f.Add(s, 0.0, 10, false)
	}
	f.Add("", 3.0, 4, true)
	f.Add("", -1.0, 4, true)
	f.Add("", 1.5, 4, true)
	f.Add("", 2147483648.0, 4, true)
	f.Fuzz(func(t *testing.T, s string, n float64, total int, roundUp bool) {
		if total < 0 || total > 1_000_000 {
			total = 10
		}
		for _, v := range []*structpb.Value{structpb.NewStringValue(s), structpb.NewNumberValue(n)} {
			p := field.NewPath("spec", "strategy", "rollingUpdate", "maxSurge")
			errs := ValidateIntOrPercent(v, p)
			namesField(t, errs)
			more := ValidateNotMoreThan100Percent(v, p)
			namesField(t, more)
			_ = IntOrPercentValue(v)
			_ = IsPercent(v)
			got, err := IntOrPercent(v, total, roundUp)
			if len(errs) > 0 {
				continue
			}
			if err != nil {
				t.Fatalf("valid IntOrString %v does not scale: %v", v.AsInterface(), err)
			}
			if got < 0 {
				t.Fatalf("valid IntOrString %v scales to %d of %d", v.AsInterface(), got, total)
			}
			if len(more) == 0 && IsPercent(v) && got > total {
				t.Fatalf("%v (at most 100%%) of %d scales to %d", v.AsInterface(), total, got)
			}
		}
	})
}
