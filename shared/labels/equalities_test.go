package labels

import (
	"reflect"
	"testing"
)

func TestEqualities(t *testing.T) {
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
			sel, err := Parse(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := Equalities(sel); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
