package apply

import (
	"google.golang.org/protobuf/proto"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// Claim is what an owner does with one object its selector may cover.
type Claim int

const (
	// Ignore: not the owner's (controlled by another, or not to be adopted).
	Ignore Claim = iota
	// Keep: the owner controls it and its selector still matches.
	Keep
	// Adopt: an orphan the selector matches: the owner becomes its controller.
	Adopt
	// Release: the owner controls it but its selector no longer matches.
	Release
)

func (c Claim) String() string {
	return [...]string{"Ignore", "Keep", "Adopt", "Release"}[c]
}

// ClaimOf is Kubernetes' BaseControllerRefManager.ClaimObject as a decision: an
// object controlled by another owner is ignored; one the owner controls is kept
// while the selector matches it, else released (unless the owner is being
// deleted: then it is left as it is); an orphan the selector matches is adopted,
// unless the owner or the orphan is being deleted or they live in different
// namespaces.
func ClaimOf(owner *corev1.ObjectMeta, sel k8slabels.Selector, obj *corev1.ObjectMeta) Claim {
	matches := sel.Matches(k8slabels.Set(obj.GetLabels()))
	if ref := podutil.GetControllerOf(obj); ref != nil {
		switch {
		case ref.GetUid() != owner.GetUid():
			return Ignore
		case matches:
			return Keep
		case owner.GetDeletionTimestamp() != nil:
			return Ignore
		}
		return Release
	}
	if owner.GetDeletionTimestamp() != nil || !matches || obj.GetDeletionTimestamp() != nil {
		return Ignore
	}
	if owner.GetNamespace() != "" && owner.GetNamespace() != obj.GetNamespace() {
		return Ignore
	}
	return Adopt
}

// Selector is an owner's selector: what it matches, and its matchLabels to
// narrow the orphans read (nil reads every orphan of the namespace).
type Selector struct {
	Matches     k8slabels.Selector
	MatchLabels map[string]string
}

// claimOne decides ClaimOf for *obj; to adopt or release it, *obj becomes a copy
// with its ownerReferences changed (the original may be a cache's).
func claimOne[T store.Object](owner *corev1.ObjectMeta, ref *corev1.OwnerReference, sel Selector, obj *T) Claim {
	c := ClaimOf(owner, sel.Matches, (*obj).GetMetadata())
	switch c {
	case Adopt:
		*obj = proto.Clone(*obj).(T)
		m := (*obj).GetMetadata()
		m.OwnerReferences = append(m.OwnerReferences, proto.Clone(ref).(*corev1.OwnerReference))
	case Release:
		*obj = proto.Clone(*obj).(T)
		podview.DropOwner((*obj).GetMetadata(), owner.GetUid())
	}
	return c
}
