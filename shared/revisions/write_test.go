package revisions

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// ownedBy is r with its controller reference to uid instead.
func ownedBy(r *Revision, uid string) *Revision {
	c := proto.CloneOf(r)
	c.Metadata.OwnerReferences[0].Uid = uid
	return c
}

// TestSameRevision: a taken name holds the revision wanted only with the same
// data and the same controller (a revision of another owner, or of none, is a
// hash collision; its revision number and metadata do not count).
func TestSameRevision(t *testing.T) {
	want := revisionOf(nameKind, "a:1", 1)
	noController := proto.CloneOf(want)
	noController.Metadata.OwnerReferences[0].Controller = proto.Bool(false)
	cases := map[string]struct {
		stored, want *Revision
		same         bool
	}{
		"identical":              {stored: want, want: want, same: true},
		"other number and meta":  {stored: func() *Revision { r := revisionOf(nameKind, "a:1", 5); r.Metadata.Labels = nil; return r }(), want: want, same: true},
		"other data":             {stored: revisionOf(nameKind, "a:2", 1), want: want},
		"other owner":            {stored: ownedBy(want, "uid-9"), want: want},
		"owner not a controller": {stored: noController, want: want},
		"wanted has no owner":    {stored: noController, want: noController},
		"nil data on both":       {stored: &Revision{Metadata: want.Metadata}, want: &Revision{Metadata: want.Metadata}, same: true},
		"nil data on one":        {stored: &Revision{Metadata: want.Metadata}, want: want},
		"stored has no metadata": {stored: &Revision{Data: want.Data}, want: want},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := SameRevision(tc.stored, tc.want); got != tc.same {
				t.Fatalf("SameRevision = %v, want %v", got, tc.same)
			}
		})
	}
}
