package revisions

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// fakeObjects is a store of revisions by name that records what was asked.
type fakeObjects struct {
	stored  map[string]*Revision
	getErr  error
	created []string
	gets    int
}

var _ Objects[*Revision] = (*fakeObjects)(nil)

func (f *fakeObjects) Create(_ context.Context, _ store.Querier, r *Revision) (*Revision, error) {
	if _, ok := f.stored[r.GetMetadata().GetName()]; ok {
		return r, store.ErrAlreadyExists
	}
	f.created = append(f.created, r.GetMetadata().GetName())
	return r, nil
}

func (f *fakeObjects) Get(_ context.Context, _ store.Querier, _, name string) (*Revision, error) {
	f.gets++
	if f.getErr != nil {
		return nil, f.getErr
	}
	r, ok := f.stored[name]
	if !ok {
		return nil, store.ErrNotFound
	}
	return r, nil
}

// ownedBy is r with its controller reference to uid instead.
func ownedBy(r *Revision, uid string) *Revision {
	c := proto.CloneOf(r)
	c.Metadata.OwnerReferences[0].Uid = uid
	return c
}

func TestCreate(t *testing.T) {
	want := revisionOf(hashKind, "a:1", 2)
	name := want.GetMetadata().GetName()
	other := revisionOf(hashKind, "a:2", 1)
	other.Metadata.Name = name // another template under the same name: a hash collision
	orphan := proto.CloneOf(want)
	orphan.Metadata.OwnerReferences = nil
	cases := map[string]struct {
		stored      *Revision
		getErr      error
		bumpErr     error
		wantOutcome Outcome
		wantBumps   int
		wantErr     bool
	}{
		"free name":                            {wantOutcome: Created},
		"same revision of the same owner":      {stored: want, wantOutcome: Reused},
		"same data, renumbered, same owner":    {stored: revisionOf(hashKind, "a:1", 7), wantOutcome: Reused},
		"other data: a collision":              {stored: other, wantOutcome: Collided, wantBumps: 1},
		"same data, another owner":             {stored: ownedBy(want, "uid-2"), wantOutcome: Collided, wantBumps: 1},
		"same data, no owner":                  {stored: orphan, wantOutcome: Collided, wantBumps: 1},
		"taken, gone when read: a collision":   {stored: other, getErr: store.ErrNotFound, wantOutcome: Collided, wantBumps: 1},
		"taken, the read fails":                {stored: other, getErr: errors.New("boom"), wantErr: true},
		"a collision whose count write failed": {stored: other, bumpErr: errors.New("conflict"), wantBumps: 1, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeObjects{stored: map[string]*Revision{}, getErr: tc.getErr}
			if tc.stored != nil {
				f.stored[tc.stored.GetMetadata().GetName()] = tc.stored
			}
			bumps := 0
			bump := func() error { bumps++; return tc.bumpErr }
			got, outcome, err := Create(context.Background(), nil, f, proto.CloneOf(want), func(s *Revision) bool { return SameRevision(s, want) }, bump)
			if (err != nil) != tc.wantErr || bumps != tc.wantBumps {
				t.Fatalf("err %v, bumps %d; want error %v, %d bumps", err, bumps, tc.wantErr, tc.wantBumps)
			}
			if tc.wantErr {
				return
			}
			if outcome != tc.wantOutcome {
				t.Fatalf("outcome %v, want %v", outcome, tc.wantOutcome)
			}
			switch outcome {
			case Created:
				if len(f.created) != 1 || !proto.Equal(got, want) {
					t.Fatalf("created %v: %v", f.created, got)
				}
			case Reused:
				if got != tc.stored {
					t.Fatalf("reused %v, want the stored %v", got, tc.stored)
				}
			case Collided:
				if got != nil {
					t.Fatalf("a collision returned %v", got)
				}
			}
		})
	}
}

// Without same, a taken name is always a collision, never read (the
// Deployment's ReplicaSets).
func TestCreateWithoutSame(t *testing.T) {
	want := revisionOf(hashKind, "a:1", 1)
	f := &fakeObjects{stored: map[string]*Revision{want.GetMetadata().GetName(): want}}
	bumps := 0
	_, outcome, err := Create(context.Background(), nil, f, proto.CloneOf(want), nil, func() error { bumps++; return nil })
	if err != nil || outcome != Collided || bumps != 1 || f.gets != 0 {
		t.Fatalf("outcome %v, err %v, bumps %d, reads %d", outcome, err, bumps, f.gets)
	}
}

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

func TestControllerUID(t *testing.T) {
	yes, no := true, false
	cases := map[string]struct {
		refs []*corev1.OwnerReference
		want string
	}{
		"none":               {},
		"not a controller":   {refs: []*corev1.OwnerReference{{Uid: "a", Controller: &no}}},
		"the controller one": {refs: []*corev1.OwnerReference{{Uid: "a"}, {Uid: "b", Controller: &yes}}, want: "b"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := controllerUID(&corev1.ObjectMeta{OwnerReferences: tc.refs}); got != tc.want {
				t.Fatalf("controllerUID = %q, want %q", got, tc.want)
			}
		})
	}
}

// fakeUpdater records the owners written.
type fakeUpdater[T store.Object] struct {
	updated []T
	err     error
}

func (f *fakeUpdater[T]) Update(_ context.Context, _ store.Querier, obj T) (T, error) {
	f.updated = append(f.updated, obj)
	return obj, f.err
}

func TestCountCollision(t *testing.T) {
	cases := map[string]struct {
		owner   store.Object
		count   func(store.Object) int32
		want    int32
		wantErr bool
	}{
		"daemon set, no status": {owner: &daemonsetv1.DaemonSet{Metadata: &corev1.ObjectMeta{Name: "a"}},
			count: func(o store.Object) int32 { return o.(*daemonsetv1.DaemonSet).GetStatus().GetCollisionCount() }, want: 1},
		"daemon set, count unset": {owner: &daemonsetv1.DaemonSet{Status: &daemonsetv1.DaemonSetStatus{NumberReady: proto.Int32(2)}},
			count: func(o store.Object) int32 { return o.(*daemonsetv1.DaemonSet).GetStatus().GetCollisionCount() }, want: 1},
		"stateful set, count 2": {owner: &statefulsetv1.StatefulSet{Status: &statefulsetv1.StatefulSetStatus{CollisionCount: proto.Int32(2)}},
			count: func(o store.Object) int32 { return o.(*statefulsetv1.StatefulSet).GetStatus().GetCollisionCount() }, want: 3},
		"deployment, count 0 set": {owner: &deploymentv1.Deployment{Status: &deploymentv1.DeploymentStatus{CollisionCount: proto.Int32(0)}},
			count: func(o store.Object) int32 { return o.(*deploymentv1.Deployment).GetStatus().GetCollisionCount() }, want: 1},
		"no collision count": {owner: &corev1.Pod{Status: &corev1.PodStatus{}}, wantErr: true},
		"no status":          {owner: &Revision{}, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeUpdater[store.Object]{}
			err := CountCollision(context.Background(), nil, f, tc.owner)
			if tc.wantErr {
				if err == nil || len(f.updated) != 0 {
					t.Fatalf("err %v, wrote %d", err, len(f.updated))
				}
				return
			}
			if err != nil || len(f.updated) != 1 || f.updated[0] != tc.owner {
				t.Fatalf("err %v, wrote %v", err, f.updated)
			}
			if got := tc.count(tc.owner); got != tc.want {
				t.Fatalf("collisionCount %d, want %d", got, tc.want)
			}
		})
	}
	// The write's error is CountCollision's.
	f := &fakeUpdater[*daemonsetv1.DaemonSet]{err: store.ErrConflict}
	if err := CountCollision(context.Background(), nil, f, &daemonsetv1.DaemonSet{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err %v, want the update's", err)
	}
}
