// Package quota is the pure half of ResourceQuotas and LimitRanges: resource
// list arithmetic (k8s.io/apiserver/pkg/quota/v1's), a pod's usage (Kubernetes'
// pod evaluator), the quota admission decision with its messages, and the
// LimitRanger admission (defaults, then min/max/ratio checks). No I/O.
package quota

import (
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/podwarden/podwarden/shared/defaults"
)

// List is a resource list: resource name to quantity.
type List map[string]resource.Quantity

// FromProto parses a proto quantity map; values that do not parse are left out
// (validation rejects them before they are stored).
func FromProto(m map[string]*structpb.Value) List {
	out := make(List, len(m))
	for k, v := range m {
		if q, err := defaults.Quantity(v); err == nil {
			out[k] = q
		}
	}
	return out
}

// ToProto renders l in canonical string form ("500m", "1Gi", "3").
func ToProto(l List) map[string]*structpb.Value {
	if l == nil {
		return nil
	}
	out := make(map[string]*structpb.Value, len(l))
	for k, q := range l {
		out[k] = defaults.QuantityValue(q)
	}
	return out
}

// Add is a + b (the keys of either).
func Add(a, b List) List {
	out := make(List, len(a)+len(b))
	for k, q := range a {
		out[k] = q.DeepCopy()
	}
	for k, q := range b {
		sum := out[k].DeepCopy()
		sum.Add(q)
		out[k] = sum
	}
	return out
}

// Subtract is a - b for the keys of a (and b's alone, negated).
func Subtract(a, b List) List {
	out := make(List, len(a)+len(b))
	for k, q := range a {
		out[k] = q.DeepCopy()
	}
	for k, q := range b {
		d := out[k].DeepCopy()
		d.Sub(q)
		out[k] = d
	}
	return out
}

// Mask is the part of l named in names.
func Mask(l List, names []string) List {
	out := List{}
	for _, n := range names {
		if q, ok := l[n]; ok {
			out[n] = q.DeepCopy()
		}
	}
	return out
}

// Names is l's resource names, sorted.
func Names(l List) []string { return slices.Sorted(maps.Keys(l)) }

// LessThanOrEqual reports whether a <= b for every key of a that b has, and
// the keys where it is not.
func LessThanOrEqual(a, b List) (bool, []string) {
	var exceeded []string
	for _, k := range Names(a) {
		if limit, ok := b[k]; ok {
			q := a[k]
			if q.Cmp(limit) > 0 {
				exceeded = append(exceeded, k)
			}
		}
	}
	return len(exceeded) == 0, exceeded
}

// RemoveZeros drops the zero quantities.
func RemoveZeros(l List) List {
	out := List{}
	for k, q := range l {
		if !q.IsZero() {
			out[k] = q
		}
	}
	return out
}

// Equals reports whether a and b hold the same keys with equal quantities.
func Equals(a, b List) bool {
	if len(a) != len(b) {
		return false
	}
	for k, q := range a {
		o, ok := b[k]
		if !ok || q.Cmp(o) != 0 {
			return false
		}
	}
	return true
}

// String is the admission messages' form: "limits.cpu=2,pods=1", sorted by name
// (the quota admission plugin's prettyPrint).
func (l List) String() string {
	parts := make([]string, 0, len(l))
	for _, k := range Names(l) {
		q := l[k]
		parts = append(parts, k+"="+q.String())
	}
	return strings.Join(parts, ",")
}
