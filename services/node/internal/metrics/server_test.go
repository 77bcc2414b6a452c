package metrics

import (
	"reflect"
	"testing"

	"github.com/podwarden/podwarden/shared/labels"
)

func TestEqualityLabels(t *testing.T) {
	cases := map[string]struct {
		sel  string
		want map[string]string
	}{
		"everything":           {sel: "", want: nil},
		"one equality":         {sel: "app=hpa-nginx", want: map[string]string{"app": "hpa-nginx"}},
		"set of one and other": {sel: "app in (web),tier!=db", want: map[string]string{"app": "web"}},
		"no equality":          {sel: "app in (a,b),!canary", want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sel, err := labels.Parse(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := equalityLabels(sel); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
