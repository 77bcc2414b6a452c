package apply

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/shared/crud"

	appsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/apps/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

func ref(uid string, controller, block bool) *corev1.OwnerReference {
	return &corev1.OwnerReference{Kind: "ReplicaSet", Name: uid, Uid: uid, Controller: &controller, BlockOwnerDeletion: &block}
}

// TestClaimOf: ClaimObject's cases, one by one.
func TestClaimOf(t *testing.T) {
	sel := k8slabels.SelectorFromSet(k8slabels.Set{"app": "web"})
	web, db := map[string]string{"app": "web"}, map[string]string{"app": "db"}
	cases := map[string]struct {
		ownerDeleting bool
		labels        map[string]string
		refs          []*corev1.OwnerReference
		objDeleting   bool
		namespace     string
		want          Claim
	}{
		"owned and matching":                     {labels: web, refs: []*corev1.OwnerReference{ref("rs", true, true)}, want: Keep},
		"owned and matching, owner deleting":     {ownerDeleting: true, labels: web, refs: []*corev1.OwnerReference{ref("rs", true, true)}, want: Keep},
		"owned, no longer matching":              {labels: db, refs: []*corev1.OwnerReference{ref("rs", true, true)}, want: Release},
		"owned, no longer matching, owner going": {ownerDeleting: true, labels: db, refs: []*corev1.OwnerReference{ref("rs", true, true)}, want: Ignore},
		"controlled by another":                  {labels: web, refs: []*corev1.OwnerReference{ref("other", true, true)}, want: Ignore},
		"orphan matching":                        {labels: web, want: Adopt},
		"orphan with a non-controller owner":     {labels: web, refs: []*corev1.OwnerReference{ref("other", false, false)}, want: Adopt},
		"orphan not matching":                    {labels: db, want: Ignore},
		"orphan matching, owner deleting":        {ownerDeleting: true, labels: web, want: Ignore},
		"orphan matching, orphan deleting":       {objDeleting: true, labels: web, want: Ignore},
		"orphan matching, other namespace":       {labels: web, namespace: "other", want: Ignore},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			owner := &corev1.ObjectMeta{Name: "rs", Namespace: "default", Uid: "rs"}
			if tc.ownerDeleting {
				owner.DeletionTimestamp = timestamppb.Now()
			}
			ns := "default"
			if tc.namespace != "" {
				ns = tc.namespace
			}
			obj := &corev1.ObjectMeta{Name: "p", Namespace: ns, Labels: tc.labels, OwnerReferences: tc.refs}
			if tc.objDeleting {
				obj.DeletionTimestamp = timestamppb.Now()
			}
			if got := ClaimOf(owner, sel, obj); got != tc.want {
				t.Fatalf("ClaimOf = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestForegroundStep: the collector deletes the dependents not yet being deleted
// and lets the owner go once no blocking dependent is left.
func TestForegroundStep(t *testing.T) {
	dep := func(deleting, block bool) *corev1.ObjectMeta {
		m := &corev1.ObjectMeta{OwnerReferences: []*corev1.OwnerReference{ref("owner", true, block)}}
		if deleting {
			m.DeletionTimestamp = timestamppb.Now()
		}
		return m
	}
	cases := map[string]struct {
		notDeleting bool
		noFinalizer bool
		dependents  []*corev1.ObjectMeta
		wantDel     []int
		wantDone    bool
	}{
		"no dependents":                        {wantDone: true},
		"live dependents are deleted":          {dependents: []*corev1.ObjectMeta{dep(false, true), dep(true, true), dep(false, true)}, wantDel: []int{0, 2}},
		"terminating dependents still block":   {dependents: []*corev1.ObjectMeta{dep(true, true)}},
		"non-blocking dependents do not block": {dependents: []*corev1.ObjectMeta{dep(false, false), dep(true, false)}, wantDel: []int{0}, wantDone: true},
		"owner without the finalizer":          {noFinalizer: true, dependents: []*corev1.ObjectMeta{dep(false, true)}},
		"owner not being deleted":              {notDeleting: true, dependents: []*corev1.ObjectMeta{dep(false, true)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			owner := &corev1.ObjectMeta{Name: "owner", Uid: "owner", DeletionTimestamp: timestamppb.Now(), Finalizers: []string{crud.FinalizerForeground}}
			if tc.notDeleting {
				owner.DeletionTimestamp = nil
			}
			if tc.noFinalizer {
				owner.Finalizers = nil
			}
			del, done := ForegroundStep(owner, tc.dependents)
			if fmt.Sprint(del) != fmt.Sprint(tc.wantDel) || done != tc.wantDone {
				t.Fatalf("ForegroundStep = %v, %v; want %v, %v", del, done, tc.wantDel, tc.wantDone)
			}
		})
	}
}

// TestBumpCollisionCount: CountCollision's change to the owner, for every
// owner kind (status or count unset included); a kind without an int32
// status.collisionCount is an error and is left as it is.
func TestBumpCollisionCount(t *testing.T) {
	cases := map[string]struct {
		owner   proto.Message
		count   func(proto.Message) int32
		want    int32
		wantErr bool
	}{
		"daemon set, no status": {owner: &daemonsetv1.DaemonSet{Metadata: &corev1.ObjectMeta{Name: "a"}},
			count: func(o proto.Message) int32 { return o.(*daemonsetv1.DaemonSet).GetStatus().GetCollisionCount() }, want: 1},
		"daemon set, count unset": {owner: &daemonsetv1.DaemonSet{Status: &daemonsetv1.DaemonSetStatus{NumberReady: proto.Int32(2)}},
			count: func(o proto.Message) int32 { return o.(*daemonsetv1.DaemonSet).GetStatus().GetCollisionCount() }, want: 1},
		"stateful set, count 2": {owner: &statefulsetv1.StatefulSet{Status: &statefulsetv1.StatefulSetStatus{CollisionCount: proto.Int32(2)}},
			count: func(o proto.Message) int32 { return o.(*statefulsetv1.StatefulSet).GetStatus().GetCollisionCount() }, want: 3},
		"deployment, count 0 set": {owner: &deploymentv1.Deployment{Status: &deploymentv1.DeploymentStatus{CollisionCount: proto.Int32(0)}},
			count: func(o proto.Message) int32 { return o.(*deploymentv1.Deployment).GetStatus().GetCollisionCount() }, want: 1},
		"no collision count": {owner: &corev1.Pod{Status: &corev1.PodStatus{}}, wantErr: true},
		"no status":          {owner: &appsv1.ControllerRevision{}, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := proto.Clone(tc.owner)
			err := bumpCollisionCount(tc.owner)
			if tc.wantErr {
				if err == nil || !proto.Equal(before, tc.owner) {
					t.Fatalf("err %v, owner %v", err, tc.owner)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.count(tc.owner); got != tc.want {
				t.Fatalf("collisionCount %d, want %d", got, tc.want)
			}
		})
	}
}
