package gateway

import "testing"

// TestNodeLeaseSelector: a node Lease list's field selector takes what a Lease
// takes; metadata.namespace is decided against kube-node-lease, metadata.name is
// passed to the nodes, anything else is kube-apiserver's 400.
func TestNodeLeaseSelector(t *testing.T) {
	cases := map[string]struct {
		in, want string
		none     bool
		err      string
	}{
		"none":              {in: "", want: ""},
		"name":              {in: "metadata.name=node-1", want: "metadata.name=node-1"},
		"not name":          {in: "metadata.name!=node-1", want: "metadata.name!=node-1"},
		"its namespace":     {in: "metadata.namespace=kube-node-lease,metadata.name=node-1", want: "metadata.name=node-1"},
		"another namespace": {in: "metadata.namespace=default", none: true},
		"not its namespace": {in: "metadata.namespace!=kube-node-lease", none: true},
		"not another":       {in: "metadata.namespace!=default", want: ""},
		"unknown label":     {in: "spec.holderIdentity=node-1", err: `"spec.holderIdentity" is not a known field selector: only "metadata.name", "metadata.namespace"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, none, err := nodeLeaseSelector(c.in)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || none != c.none || (!none && got != c.want) {
				t.Errorf("got %q none=%v err=%v, want %q none=%v", got, none, err, c.want, c.none)
			}
		})
	}
}
