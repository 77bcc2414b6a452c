package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	coordinationv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/coordination/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func lease(name string, spec *coordinationv1.LeaseSpec) *coordinationv1.Lease {
	return &coordinationv1.Lease{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default"}, Spec: spec}
}

func TestValidateLease(t *testing.T) {
	tests := map[string]struct {
		lease *coordinationv1.Lease
		want  []string // error texts, in order; none: valid
	}{
		"empty spec": {lease: lease("a", nil)},
		"leader election lease": {lease: lease("kube-controller-manager", &coordinationv1.LeaseSpec{
			HolderIdentity: proto.String("node-1_0b5e"), LeaseDurationSeconds: proto.Int32(15),
			AcquireTime: proto.String("2026-12-07T18:49:27.123456Z"), RenewTime: proto.String("2026-12-07T18:49:29.000001Z"),
			LeaseTransitions: proto.Int32(0)})},
		"bad name": {lease: lease("Bad_Name", nil),
			want: []string{"metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"}},
		"zero duration": {lease: lease("a", &coordinationv1.LeaseSpec{LeaseDurationSeconds: proto.Int32(0)}),
			want: []string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"}},
		"negative transitions": {lease: lease("a", &coordinationv1.LeaseSpec{LeaseTransitions: proto.Int32(-1)}),
			want: []string{"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"}},
		"bad time": {lease: lease("a", &coordinationv1.LeaseSpec{RenewTime: proto.String("yesterday")}),
			want: []string{"spec.renewTime: Invalid value: \"yesterday\": must be an RFC 3339 time"}},
		"unknown strategy": {lease: lease("a", &coordinationv1.LeaseSpec{Strategy: proto.String("Newest")}),
			want: []string{"spec.strategy: Unsupported value: \"Newest\": supported values: \"OldestEmulationVersion\""}},
		"custom strategy": {lease: lease("a", &coordinationv1.LeaseSpec{Strategy: proto.String("example.com/mine")})},
		"preferred holder without strategy": {lease: lease("a", &coordinationv1.LeaseSpec{PreferredHolder: proto.String("b")}),
			want: []string{"spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := ValidateLease(tc.lease, nil, true)
			if len(errs) != len(tc.want) {
				t.Fatalf("errors %v, want %d: %v", errs, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func TestDefaultLeaseWritesMicroTime(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"already micro":      {in: "2026-12-07T18:49:27.123456Z", want: "2026-12-07T18:49:27.123456Z"},
		"whole seconds":      {in: "2026-12-07T18:49:27Z", want: "2026-12-07T18:49:27.000000Z"},
		"nanoseconds, zone":  {in: "2026-12-07T18:49:27.123456789+01:00", want: "2026-12-07T17:49:27.123456Z"},
		"milliseconds":       {in: "2026-12-07T18:49:27.5Z", want: "2026-12-07T18:49:27.500000Z"},
		"unparsable is kept": {in: "later", want: "later"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := lease("a", &coordinationv1.LeaseSpec{RenewTime: proto.String(tc.in), AcquireTime: proto.String(tc.in)})
			DefaultLease(l)
			if l.Spec.GetRenewTime() != tc.want || l.Spec.GetAcquireTime() != tc.want {
				t.Fatalf("got %q/%q, want %q", l.Spec.GetAcquireTime(), l.Spec.GetRenewTime(), tc.want)
			}
		})
	}
}
