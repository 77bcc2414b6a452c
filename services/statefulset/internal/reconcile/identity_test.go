package reconcile

import (
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// TestOrdinalAndMembership: a pod's ordinal and set are read from its name as
// Kubernetes' getParentNameAndOrdinal reads them (`^(.*)-([0-9]+)$`).
func TestOrdinalAndMembership(t *testing.T) {
	web := &statefulsetv1.StatefulSet{Metadata: &corev1.ObjectMeta{Name: "web"}}
	for _, tc := range []struct {
		name    string
		ordinal int
		member  bool
	}{
		{"web-0", 0, true},
		{"web-12", 12, true},
		{"web-db-3", 3, false},
		{"my-web-3", 3, false},
		{"web", -1, false},
		{"web-", -1, false},
		{"web-x1", -1, false},
		{"web-1a", -1, false},
		{"-7", 7, false},
		{"web-99999999999999999999", -1, true},
	} {
		p := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: tc.name}}
		if got := Ordinal(p); got != tc.ordinal {
			t.Errorf("Ordinal(%q) = %d, want %d", tc.name, got, tc.ordinal)
		}
		if got := IsMemberOf(web, p); got != tc.member {
			t.Errorf("IsMemberOf(web, %q) = %v, want %v", tc.name, got, tc.member)
		}
	}
}
