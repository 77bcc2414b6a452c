package revisions

import (
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/apply"
	"github.com/podwarden/podwarden/shared/podutil"
)

// SameRevision tells whether stored, a revision found under want's name, is
// want: the same data, controlled by the same owner. Kubernetes compares the
// data only; the owner check keeps a revision another owner (or none) holds
// from being taken over here: adoption is the claim step's decision.
func SameRevision(stored, want *Revision) bool {
	uid := podutil.GetControllerOf(want.GetMetadata()).GetUid()
	return proto.Equal(stored.GetData(), want.GetData()) &&
		podutil.GetControllerOf(stored.GetMetadata()).GetUid() == uid && uid != ""
}

// Writes is constructHistory's writes, the first of a sync's plan: p.Create
// (its name holding the same revision, SameRevision, is no collision: it is
// reused; holding another, a hash collision: Apply carries out onCollision,
// apply.CountCollision of the owner, and stops) or p.Current renumbered.
func (p Plan) Writes(onCollision apply.Write) []apply.Write {
	switch {
	case p.Create != nil:
		want := p.Create
		return []apply.Write{apply.CreateOrReuse(Store, want, func(stored *Revision) bool { return SameRevision(stored, want) }).Unique(onCollision)}
	case p.BumpRevision:
		return []apply.Write{apply.Update(Store, p.Current)}
	}
	return nil
}

// Deletes is cleanupHistory's deletions as writes (a revision already gone is fine).
func Deletes(revs []*Revision) []apply.Write {
	out := make([]apply.Write, 0, len(revs))
	for _, r := range revs {
		out = append(out, apply.Delete(Store, r))
	}
	return out
}
