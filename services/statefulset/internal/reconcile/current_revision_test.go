package reconcile

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/shared/revisions"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// TestCurrentRevision: status.currentRevision names the current revision while
// it exists; otherwise (and when it is the update revision) the update revision
// is current, with the set's own template.
func TestCurrentRevision(t *testing.T) {
	old := set(3)
	old.Spec.Template.Spec.Containers[0].Image = "nginx:old"
	oldRev := NewRevision(old, "old", 1)
	oldRev.Metadata.Name = revOld
	broken := &revisions.Revision{Metadata: &corev1.ObjectMeta{Name: "web-broken"},
		Data: &structpb.Struct{Fields: map[string]*structpb.Value{"spec": structpb.NewStringValue("not a patch")}}}
	revs := []*revisions.Revision{oldRev, broken}
	cases := map[string]struct {
		current   string
		wantName  string
		wantImage string
		wantErr   bool
	}{
		"no current revision yet":      {wantName: revNew, wantImage: "nginx:new"},
		"current is the update":        {current: revNew, wantName: revNew, wantImage: "nginx:new"},
		"current is an older revision": {current: revOld, wantName: revOld, wantImage: "nginx:old"},
		"current revision is gone":     {current: "web-gone", wantName: revNew, wantImage: "nginx:new"},
		"current revision unreadable":  {current: "web-broken", wantName: revNew, wantImage: "nginx:new", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := set(3)
			s.Status = &statefulsetv1.StatefulSetStatus{CurrentRevision: tc.current}
			gotName, cur, err := CurrentRevision(s, revs, revNew)
			if gotName != tc.wantName || (err != nil) != tc.wantErr {
				t.Fatalf("CurrentRevision = %q, %v; want %q, error %v", gotName, err, tc.wantName, tc.wantErr)
			}
			if img := cur.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage(); img != tc.wantImage {
				t.Fatalf("current template image %q, want %q", img, tc.wantImage)
			}
			if s.Spec.Template.Spec.Containers[0].Image != "nginx:new" {
				t.Fatal("the set's own template changed")
			}
		})
	}
}
