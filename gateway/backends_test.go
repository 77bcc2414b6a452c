package gateway

import (
	"reflect"
	"testing"
)

// TestAllBackends checks the descriptors against Backends and Config: one per
// Backends field, in Config's order, and no kind printed by two of them.
func TestAllBackends(t *testing.T) {
	var b Backends
	fields := reflect.ValueOf(&b).Elem()
	addrs := Config{}.backendAddrs()
	if len(allBackends) != fields.NumField() || len(allBackends) != len(addrs) {
		t.Fatalf("%d descriptors for %d Backends fields and %d configured backends", len(allBackends), fields.NumField(), len(addrs))
	}
	printedBy := map[string]string{}
	for i, be := range allBackends {
		if be.name != addrs[i].name {
			t.Errorf("descriptor %d is %s, Config lists %s there", i, be.name, addrs[i].name)
		}
		if be.conn(&b) != fields.Field(i).Addr().Interface() {
			t.Errorf("%s: conn is not Backends.%s", be.name, fields.Type().Field(i).Name)
		}
		for kind := range be.printers {
			if other, ok := printedBy[kind]; ok {
				t.Errorf("%s printed by %s and %s", kind, other, be.name)
			}
			printedBy[kind] = be.name
		}
	}
}
