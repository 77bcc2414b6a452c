package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/statefulset/internal/kinds"
	"github.com/podwarden/podwarden/services/statefulset/internal/migrations"
	"github.com/podwarden/podwarden/shared/apply/applytest"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// These tests run the sync against a real Postgres (no NATS, no loops running:
// a sync's Enqueue is a no-op) and read back the rows, the pod commands in the
// outbox and the events it wrote.

func TestMain(m *testing.M) { testenv.Main(m) }

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func newController(t *testing.T) (*Controller, *store.DB) {
	t.Helper()
	db := applytest.OpenDB(t, "statefulset_sync", migrations.FS)
	hub := applytest.Hub(t, db)
	caches := Caches{StatefulSets: watch.For(hub, kinds.StatefulSets, nil), Revisions: watch.For(hub, kinds.ControllerRevisions, nil),
		Claims: watch.For(hub, kinds.Claims, nil), Volumes: watch.For(hub, kinds.Volumes, nil), Pods: watch.For(hub, kinds.Pods, nil)}
	return New(db, nil, hub, caches, slog.New(slog.NewTextHandler(io.Discard, nil)), clock.NewFake(t0), Config{}), db
}

// web is a defaulted StatefulSet: OrderedReady, RollingUpdate, claim template www.
func web(replicas int32) *statefulsetv1.StatefulSet {
	labels := map[string]string{"app": "nginx"}
	return &statefulsetv1.StatefulSet{ApiVersion: "apps/v1", Kind: "StatefulSet",
		Metadata: &corev1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: timestamppb.New(t0)},
		Spec: &statefulsetv1.StatefulSetSpec{
			Replicas: proto.Int32(replicas), Selector: &corev1.LabelSelector{MatchLabels: labels}, ServiceName: "nginx",
			PodManagementPolicy: "OrderedReady", RevisionHistoryLimit: proto.Int32(10),
			UpdateStrategy: &statefulsetv1.StatefulSetUpdateStrategy{Type: "RollingUpdate",
				RollingUpdate: &statefulsetv1.RollingUpdateStatefulSetStrategy{Partition: proto.Int32(0), MaxUnavailable: structpb.NewNumberValue(1)}},
			PersistentVolumeClaimRetentionPolicy: &statefulsetv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: "Retain", WhenScaled: "Retain"},
			Template: &corev1.PodTemplateSpec{Metadata: &corev1.ObjectMeta{Labels: labels},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1.25"}}}},
			VolumeClaimTemplates: []*statefulsetv1.PersistentVolumeClaim{{Metadata: &corev1.ObjectMeta{Name: "www"},
				Spec: &statefulsetv1.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"},
					Resources: &corev1.ResourceRequirements{Requests: map[string]*structpb.Value{"storage": structpb.NewStringValue("1Gi")}}}}},
		}}
}

// mustSync syncs web once the caches hold every write so far, and fails if the sync
// modified a cached object.
func (c *Controller) mustSync(t *testing.T) {
	t.Helper()
	applytest.RunSynced(t, c.in.Hub, c.syncStatefulSet, "default/web", applytest.All(c.caches.StatefulSets),
		applytest.All(c.caches.Revisions), applytest.All(c.caches.Claims), applytest.All(c.caches.Volumes), applytest.All(c.caches.Pods))
}

// TestSyncStatefulSet: the first sync of an OrderedReady set writes its first
// revision, the claim of ordinal 0 and pod web-0 (with its pod.create), the
// status naming the revision, and the events; a repeat writes nothing more.
func TestSyncStatefulSet(t *testing.T) {
	c, db := newController(t)
	if _, err := kinds.StatefulSets.Create(context.Background(), db.Pool, web(2)); err != nil {
		t.Fatal(err)
	}
	c.mustSync(t)
	revs := applytest.Names(t, db, kinds.ControllerRevisions)
	if len(revs) != 1 {
		t.Fatalf("revisions %v", revs)
	}
	applytest.Equal(t, "claims", applytest.Names(t, db, kinds.Claims), "[www-web-0]")
	applytest.Equal(t, "pods", applytest.Names(t, db, kinds.Pods), "[web-0]")
	applytest.Equal(t, "commands", applytest.Commands(t, db), "[OP_CREATE:web-0]")
	applytest.Equal(t, "events", applytest.Events(t, db), "[StatefulSet/web SuccessfulCreate: create Claim www-web-0 Pod web-0 in StatefulSet web success "+
		"StatefulSet/web SuccessfulCreate: create Pod web-0 in StatefulSet web successful]")
	st := applytest.Get(t, db, kinds.StatefulSets, "default", "web").GetStatus()
	if st.GetUpdateRevision() != revs[0] || st.GetCurrentRevision() != revs[0] {
		t.Fatalf("status revisions %q/%q, want %q", st.GetCurrentRevision(), st.GetUpdateRevision(), revs[0])
	}
	c.mustSync(t) // web-0 is not Ready: OrderedReady waits
	applytest.Equal(t, "commands", applytest.Commands(t, db), "[OP_CREATE:web-0]")
	applytest.Equal(t, "revisions", applytest.Names(t, db, kinds.ControllerRevisions), fmt.Sprint(revs))
}

// TestSyncStatefulSetForeground: a set deleted in the foreground deletes its
// pods and stays until the node service reported them gone.
func TestSyncStatefulSetForeground(t *testing.T) {
	c, db := newController(t)
	if _, err := kinds.StatefulSets.Create(context.Background(), db.Pool, web(1)); err != nil {
		t.Fatal(err)
	}
	c.mustSync(t)
	applytest.ClearOutbox(t, db)
	applytest.DeleteForeground(t, db, kinds.StatefulSets, "default", "web", t0)
	c.mustSync(t)
	c.mustSync(t)
	applytest.Equal(t, "commands", applytest.Commands(t, db), "[OP_DELETE:web-0]")
	applytest.Equal(t, "sets", applytest.Names(t, db, kinds.StatefulSets), "[web(deleting)]")
	applytest.PodsGone(t, db)
	c.mustSync(t)
	applytest.Equal(t, "sets", applytest.Names(t, db, kinds.StatefulSets), "[]")
}

// TestSyncStatefulSetAdoptsOrphanPod: an orphan pod the selector matches (left by an
// orphaning delete of an earlier set) is adopted first, alone (its UPDATE command,
// the set as its controller); the next sync plans on it and does not create web-0
// again.
func TestSyncStatefulSetAdoptsOrphanPod(t *testing.T) {
	c, db := newController(t)
	ctx := context.Background()
	set, err := kinds.StatefulSets.Create(ctx, db.Pool, web(1))
	if err != nil {
		t.Fatal(err)
	}
	orphan := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "web-0", Namespace: "default", Labels: map[string]string{"app": "nginx"}},
		Spec: &corev1.PodSpec{}, Status: &corev1.PodStatus{Phase: "Running"}}
	if _, err := kinds.Pods.Create(ctx, db.Pool, orphan); err != nil {
		t.Fatal(err)
	}
	c.mustSync(t)
	applytest.Equal(t, "commands", applytest.Commands(t, db), "[OP_UPDATE:web-0]")
	applytest.Equal(t, "revisions", applytest.Names(t, db, kinds.ControllerRevisions), "[]")
	if got := podutil.GetControllerOf(applytest.Get(t, db, kinds.Pods, "default", "web-0").Metadata).GetUid(); got != set.Metadata.Uid {
		t.Fatalf("web-0's controller %q, want the set %q", got, set.Metadata.Uid)
	}
	c.mustSync(t)
	for _, cmd := range applytest.Commands(t, db) {
		if cmd == "OP_CREATE:web-0" {
			t.Fatalf("web-0 created again: %v", applytest.Commands(t, db))
		}
	}
	if n := len(applytest.Names(t, db, kinds.ControllerRevisions)); n != 1 {
		t.Fatalf("%d revisions after the plan, want 1", n)
	}
}
