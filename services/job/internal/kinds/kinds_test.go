package kinds

import (
	"testing"

	"github.com/podwarden/podwarden/services/job/internal/reconcile"
	"github.com/podwarden/podwarden/shared/podview"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// TestCountedMarkStaysInTheView: the commands about a pod of the view (delete,
// orphaning UPDATE, resends) never carry the view's counted mark to the node
// service, where it would show on the pod and be taken back with it.
func TestCountedMarkStaysInTheView(t *testing.T) {
	p := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "pi-x", Annotations: map[string]string{
		reconcile.AnnotationCounted: reconcile.CountedSucceeded, podview.ObservedVersionKey: "7", "team": "a"}}}
	got := podview.ForNode(p).GetMetadata().GetAnnotations()
	if len(got) != 1 || got["team"] != "a" {
		t.Fatalf("the node service would see %v", got)
	}
	if p.Metadata.Annotations[reconcile.AnnotationCounted] != reconcile.CountedSucceeded {
		t.Fatalf("the view lost its mark: %v", p.Metadata.Annotations)
	}
}
