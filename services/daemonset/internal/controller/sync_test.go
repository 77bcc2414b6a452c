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

	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/services/daemonset/internal/migrations"
	"github.com/podwarden/podwarden/services/daemonset/internal/reconcile"
	"github.com/podwarden/podwarden/shared/apply/applytest"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/revisions"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// These tests run the sync against a real Postgres (no NATS, no loops running:
// a sync's Enqueue is a no-op) and read back the rows, the pod commands in the
// outbox and the events it wrote.

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// newSyncController has a store with nodes n1 and n2 in its node view.
func newSyncController(t *testing.T) (*Controller, *store.DB) {
	t.Helper()
	db := applytest.OpenDB(t, "daemonset_sync", migrations.FS)
	for _, n := range []string{"n1", "n2"} {
		if _, err := kinds.Nodes.Create(context.Background(), db.Pool, &nodev1.Node{Metadata: &corev1.ObjectMeta{Name: n, Uid: n}, Spec: &nodev1.NodeSpec{}}); err != nil {
			t.Fatal(err)
		}
	}
	hub := applytest.Hub(t, db)
	caches := Caches{DaemonSets: watch.For(hub, kinds.DaemonSets, nil), Revisions: watch.For(hub, kinds.ControllerRevisions, nil),
		Pods: watch.For(hub, kinds.Pods, nil), Nodes: watch.For(hub, kinds.Nodes, nil)}
	return New(db, nil, hub, caches, slog.New(slog.NewTextHandler(io.Discard, nil)), clock.NewFake(t0), Config{}), db
}

// agent is a defaulted DaemonSet (RollingUpdate, maxUnavailable 1).
func agent() *daemonsetv1.DaemonSet {
	labels := map[string]string{"app": "agent"}
	return &daemonsetv1.DaemonSet{ApiVersion: "apps/v1", Kind: "DaemonSet",
		Metadata: &corev1.ObjectMeta{Name: "agent", Namespace: "default", CreationTimestamp: timestamppb.New(t0)},
		Spec: &daemonsetv1.DaemonSetSpec{
			Selector: &corev1.LabelSelector{MatchLabels: labels}, RevisionHistoryLimit: proto.Int32(10),
			Template: &corev1.PodTemplateSpec{Metadata: &corev1.ObjectMeta{Labels: labels},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "agent", Image: "agent:1"}}}},
			UpdateStrategy: &daemonsetv1.DaemonSetUpdateStrategy{Type: "RollingUpdate", RollingUpdate: &daemonsetv1.RollingUpdateDaemonSet{
				MaxUnavailable: structpb.NewNumberValue(1), MaxSurge: structpb.NewNumberValue(0)}},
		}}
}

// mustSync syncs agent once the caches hold every write so far, and fails if the
// sync modified a cached object.
func (c *Controller) mustSync(t *testing.T) {
	t.Helper()
	applytest.RunSynced(t, c.in.Hub, c.syncDaemonSet, "default/agent", applytest.All(c.caches.DaemonSets),
		applytest.All(c.caches.Revisions), applytest.All(c.caches.Pods), applytest.All(c.caches.Nodes))
}

// TestSyncDaemonSet: the first sync writes the first revision, a pod per node
// with its pod.create, SuccessfulCreate for each on the DaemonSet, the status;
// a repeat writes nothing more.
func TestSyncDaemonSet(t *testing.T) {
	c, db := newSyncController(t)
	if _, err := kinds.DaemonSets.Create(context.Background(), db.Pool, agent()); err != nil {
		t.Fatal(err)
	}
	c.mustSync(t)
	if revs := applytest.Names(t, db, kinds.ControllerRevisions); len(revs) != 1 {
		t.Fatalf("revisions %v", revs)
	}
	pods := applytest.Names(t, db, kinds.Pods)
	if len(pods) != 2 {
		t.Fatalf("pods %v", pods)
	}
	applytest.Equal(t, "commands", applytest.Commands(t, db), fmt.Sprintf("[OP_CREATE:%s OP_CREATE:%s]", pods[0], pods[1]))
	applytest.Equal(t, "events", applytest.Events(t, db), fmt.Sprintf("[DaemonSet/agent SuccessfulCreate: Created pod: %s DaemonSet/agent SuccessfulCreate: Created pod: %s]", pods[0], pods[1]))
	ds, err := kinds.DaemonSets.Get(context.Background(), db.Pool, "default", "agent")
	if err != nil {
		t.Fatal(err)
	}
	if ds.GetStatus().GetDesiredNumberScheduled() != 2 {
		t.Fatalf("status %v", ds.GetStatus())
	}
	c.mustSync(t)
	if n := len(applytest.Commands(t, db)); n != 2 {
		t.Fatalf("%d commands after the repeat", n)
	}
}

// TestSyncDaemonSetAdoptsRevisions: like the StatefulSet (and Kubernetes'
// ClaimControllerRevisions), a DaemonSet adopts the orphaned revisions its
// selector matches (left by an orphaning delete) and releases its revisions it
// no longer matches; a revision of its template is reused, not created again.
func TestSyncDaemonSetAdoptsRevisions(t *testing.T) {
	c, db := newSyncController(t)
	ctx := context.Background()
	ds, err := kinds.DaemonSets.Create(ctx, db.Pool, agent())
	if err != nil {
		t.Fatal(err)
	}
	// The revision of ds's template, left without owner by an orphaning delete
	// of an earlier DaemonSet; and one of ds that its selector no longer matches.
	hp := reconcile.PlanHistory(ds, nil)
	orphan := proto.Clone(hp.Create).(*revisions.Revision)
	orphan.Metadata.OwnerReferences = nil
	orphan.Metadata.Uid = ""
	if _, err := kinds.ControllerRevisions.Create(ctx, db.Pool, orphan); err != nil {
		t.Fatal(err)
	}
	mismatched := proto.Clone(hp.Create).(*revisions.Revision)
	mismatched.Metadata.Name, mismatched.Metadata.Uid = "agent-other", ""
	mismatched.Metadata.Labels = map[string]string{"app": "other"}
	mismatched.Metadata.OwnerReferences = []*corev1.OwnerReference{podview.ControllerRefTo("apps/v1", "DaemonSet", ds.Metadata)}
	if _, err := kinds.ControllerRevisions.Create(ctx, db.Pool, mismatched); err != nil {
		t.Fatal(err)
	}
	c.mustSync(t)
	owners := map[string]string{}
	for _, cr := range applytest.List(t, db, kinds.ControllerRevisions) {
		owners[cr.Metadata.Name] = podutil.GetControllerOf(cr.Metadata).GetUid()
	}
	if want := map[string]string{orphan.Metadata.Name: ds.Metadata.Uid, "agent-other": ""}; fmt.Sprint(owners) != fmt.Sprint(want) {
		t.Fatalf("revision controllers %v, want %v", owners, want)
	}
	got, err := kinds.DaemonSets.Get(ctx, db.Pool, "default", "agent")
	if err != nil {
		t.Fatal(err)
	}
	if n := got.GetStatus().GetCollisionCount(); n != 0 {
		t.Fatalf("collisionCount %d: the adoptable revision was taken for a collision", n)
	}
}

// TestSyncDaemonSetForeground: a DaemonSet deleted in the foreground deletes its
// pods and stays until the node service reported them gone.
func TestSyncDaemonSetForeground(t *testing.T) {
	c, db := newSyncController(t)
	if _, err := kinds.DaemonSets.Create(context.Background(), db.Pool, agent()); err != nil {
		t.Fatal(err)
	}
	c.mustSync(t)
	pods := applytest.Names(t, db, kinds.Pods)
	applytest.ClearOutbox(t, db)
	applytest.DeleteForeground(t, db, kinds.DaemonSets, "default", "agent", t0)
	c.mustSync(t)
	c.mustSync(t)
	applytest.Equal(t, "commands", applytest.Commands(t, db), fmt.Sprintf("[OP_DELETE:%s OP_DELETE:%s]", pods[0], pods[1]))
	applytest.Equal(t, "daemon sets", applytest.Names(t, db, kinds.DaemonSets), "[agent(deleting)]")
	applytest.PodsGone(t, db)
	c.mustSync(t)
	applytest.Equal(t, "daemon sets", applytest.Names(t, db, kinds.DaemonSets), "[]")
}
