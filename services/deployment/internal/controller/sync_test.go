package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/services/deployment/internal/migrations"
	"github.com/podwarden/podwarden/shared/apply/applytest"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// These tests run the syncs against a real Postgres (no NATS, no loops
// running: a sync's Enqueue is a no-op) and read back the rows, the pod
// commands in the outbox and the events it wrote.

func TestMain(m *testing.M) { testenv.Main(m) }

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func newController(t *testing.T) (*Controller, *store.DB) {
	t.Helper()
	db := applytest.OpenDB(t, "deployment_sync", migrations.FS)
	hub := applytest.Hub(t, db)
	caches := Caches{Deployments: watch.For(hub, kinds.Deployments, nil), ReplicaSets: watch.For(hub, kinds.ReplicaSets, nil),
		ReplicationControllers: watch.For(hub, kinds.ReplicationControllers, nil), Pods: watch.For(hub, kinds.Pods, nil)}
	return New(db, nil, hub, caches, slog.New(slog.NewTextHandler(io.Discard, nil)), clock.NewFake(t0), Config{}), db
}

// run runs one sync once the caches hold every write so far, failing if it modified a
// cached object.
func (c *Controller) run(t *testing.T, fn func(context.Context, string) error, key string) {
	t.Helper()
	applytest.RunSynced(t, c.in.Hub, fn, key, applytest.All(c.caches.Deployments), applytest.All(c.caches.ReplicaSets),
		applytest.All(c.caches.ReplicationControllers), applytest.All(c.caches.Pods))
}

func deployment(name string, replicas int32) *deploymentv1.Deployment {
	labels := map[string]string{"app": name}
	return &deploymentv1.Deployment{ApiVersion: "apps/v1", Kind: "Deployment",
		Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: timestamppb.New(t0)},
		Spec: &deploymentv1.DeploymentSpec{
			Replicas: proto.Int32(replicas), Selector: &corev1.LabelSelector{MatchLabels: labels},
			Strategy: &deploymentv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &deploymentv1.RollingUpdateDeployment{
				MaxSurge: structpb.NewStringValue("25%"), MaxUnavailable: structpb.NewStringValue("25%")}},
			RevisionHistoryLimit: proto.Int32(10), ProgressDeadlineSeconds: proto.Int32(600),
			Template: &corev1.PodTemplateSpec{Metadata: &corev1.ObjectMeta{Labels: labels},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "nginx:1.25"}}}},
		}}
}

func create[T store.Object](t *testing.T, db *store.DB, k store.Kind[T], obj T) T {
	t.Helper()
	obj, err := k.Create(context.Background(), db.Pool, obj)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestSyncDeploymentAndReplicaSet: a Deployment's sync writes its ReplicaSet,
// the ReplicaSet's sync its pods with their pod.create commands; both record
// their events on their own object.
func TestSyncDeploymentAndReplicaSet(t *testing.T) {
	c, db := newController(t)
	create(t, db, kinds.Deployments, deployment("web", 2))
	c.run(t, c.syncDeployment, "default/web")
	rsNames := applytest.Names(t, db, kinds.ReplicaSets)
	if len(rsNames) != 1 {
		t.Fatalf("replica sets %v", rsNames)
	}
	rs := applytest.Get(t, db, kinds.ReplicaSets, "default", rsNames[0])
	if ref := rs.Metadata.OwnerReferences; len(ref) != 1 || ref[0].GetName() != "web" || !ref[0].GetController() {
		t.Fatalf("replica set owners %v", ref)
	}
	if d := applytest.Get(t, db, kinds.Deployments, "default", "web"); d.Metadata.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Fatalf("deployment annotations %v", d.Metadata.Annotations)
	}
	c.run(t, c.syncReplicaSet, "default/"+rs.Metadata.Name)
	pods := applytest.List(t, db, kinds.Pods)
	if len(pods) != 2 {
		t.Fatalf("pods %v", applytest.Names(t, db, kinds.Pods))
	}
	a, b := pods[0].Metadata.Name, pods[1].Metadata.Name
	if a > b {
		a, b = b, a
	}
	applytest.Equal(t, "commands", applytest.Commands(t, db), fmt.Sprintf("[OP_CREATE:%s OP_CREATE:%s]", a, b))
	applytest.Equal(t, "events", applytest.Events(t, db), fmt.Sprintf("[Deployment/web ScalingReplicaSet: Scaled up replica set %s from 0 to 2 ReplicaSet/%s SuccessfulCreate: Created pod: %s ReplicaSet/%s SuccessfulCreate: Created pod: %s]",
		rs.Metadata.Name, rs.Metadata.Name, a, rs.Metadata.Name, b))
	// A second sync of each sends nothing more; the status counts the pods.
	c.run(t, c.syncDeployment, "default/web")
	c.run(t, c.syncReplicaSet, "default/"+rs.Metadata.Name)
	if n := len(applytest.Commands(t, db)); n != 2 {
		t.Fatalf("%d commands after the repeat", n)
	}
	if st := applytest.Get(t, db, kinds.ReplicaSets, "default", rs.Metadata.Name).Status; st.GetReplicas() != 2 {
		t.Fatalf("replica set status %v", st)
	}
}

// TestSyncDeploymentHashCollision: the ReplicaSet name the plan picks is taken
// by another owner's ReplicaSet: the sync writes nothing but the collision count.
func TestSyncDeploymentHashCollision(t *testing.T) {
	c, db := newController(t)
	create(t, db, kinds.Deployments, deployment("web", 2))
	c.run(t, c.syncDeployment, "default/web")
	name := applytest.Names(t, db, kinds.ReplicaSets)[0]
	// Give that name to someone else's ReplicaSet and start over.
	rs := applytest.Get(t, db, kinds.ReplicaSets, "default", name)
	rs.Metadata.OwnerReferences[0].Uid, rs.Metadata.OwnerReferences[0].Name = "someone-else", "someone-else"
	if _, err := kinds.ReplicaSets.Update(context.Background(), db.Pool, rs); err != nil {
		t.Fatal(err)
	}
	if _, err := kinds.Deployments.Delete(context.Background(), db.Pool, "default", "web", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(context.Background(), "DELETE FROM objects WHERE kind='Event'"); err != nil {
		t.Fatal(err)
	}
	create(t, db, kinds.Deployments, deployment("web", 2))
	c.run(t, c.syncDeployment, "default/web")
	if got := applytest.Get(t, db, kinds.Deployments, "default", "web").GetStatus().GetCollisionCount(); got != 1 {
		t.Fatalf("collisionCount %d, want 1", got)
	}
	applytest.Equal(t, "replica sets", applytest.Names(t, db, kinds.ReplicaSets), "["+name+"]")
	applytest.Equal(t, "events", applytest.Events(t, db), "[]")
	c.run(t, c.syncDeployment, "default/web")
	if n := len(applytest.Names(t, db, kinds.ReplicaSets)); n != 2 {
		t.Fatalf("after the collision: %d replica sets, want 2", n)
	}
}

// TestForegroundDeletion: a Deployment deleted in the foreground deletes its
// ReplicaSets in the foreground: the pods go first (pod.delete), then the
// ReplicaSet once the node service reported them gone, then the Deployment.
func TestForegroundDeletion(t *testing.T) {
	c, db := newController(t)
	create(t, db, kinds.Deployments, deployment("web", 2))
	c.run(t, c.syncDeployment, "default/web")
	rsName := applytest.Names(t, db, kinds.ReplicaSets)[0]
	c.run(t, c.syncReplicaSet, "default/"+rsName)
	applytest.ClearOutbox(t, db)

	applytest.DeleteForeground(t, db, kinds.Deployments, "default", "web", t0)
	for range 2 {
		c.run(t, c.syncDeployment, "default/web")
		c.run(t, c.syncReplicaSet, "default/"+rsName)
	}
	applytest.Equal(t, "deployments", applytest.Names(t, db, kinds.Deployments), "[web(deleting)]")
	applytest.Equal(t, "replica sets", applytest.Names(t, db, kinds.ReplicaSets), "["+rsName+"(deleting)]")
	if rs := applytest.Get(t, db, kinds.ReplicaSets, "default", rsName); !crud.HasFinalizer(rs.Metadata, crud.FinalizerForeground) {
		t.Fatalf("replica set finalizers %v", rs.Metadata.Finalizers)
	}
	ops := applytest.Commands(t, db)
	if len(ops) != 2 || ops[0][:10] != "OP_DELETE:" || ops[1][:10] != "OP_DELETE:" {
		t.Fatalf("commands %v", ops)
	}
	applytest.PodsGone(t, db)
	c.run(t, c.syncDeployment, "default/web")
	applytest.Equal(t, "deployments", applytest.Names(t, db, kinds.Deployments), "[web(deleting)]")
	c.run(t, c.syncReplicaSet, "default/"+rsName)
	applytest.Equal(t, "replica sets", applytest.Names(t, db, kinds.ReplicaSets), "[]")
	c.run(t, c.syncDeployment, "default/web")
	applytest.Equal(t, "deployments", applytest.Names(t, db, kinds.Deployments), "[]")
}

// TestSyncDeploymentClaimsReplicaSets: the Deployment adopts an orphaned
// ReplicaSet its selector matches (left by an orphaning delete: the template is
// the same, so no new ReplicaSet is made) and ignores one another owner controls.
func TestSyncDeploymentClaimsReplicaSets(t *testing.T) {
	c, db := newController(t)
	ctx := context.Background()
	create(t, db, kinds.Deployments, deployment("web", 2))
	c.run(t, c.syncDeployment, "default/web")
	name := applytest.Names(t, db, kinds.ReplicaSets)[0]
	// Orphan-delete the Deployment and make it again.
	web := applytest.Get(t, db, kinds.Deployments, "default", "web")
	if err := db.InTx(ctx, func(tx pgx.Tx) error { return OrphanReplicaSets(ctx, tx, web.Metadata) }); err != nil {
		t.Fatal(err)
	}
	if _, err := kinds.Deployments.Delete(ctx, db.Pool, "default", "web", ""); err != nil {
		t.Fatal(err)
	}
	other := deployment("other", 1)
	other.Spec.Template.Spec.Containers[0].Image = "nginx:other"
	rs := &deploymentv1.ReplicaSet{ApiVersion: "apps/v1", Kind: "ReplicaSet",
		Metadata: &corev1.ObjectMeta{Name: "theirs", Namespace: "default", Labels: map[string]string{"app": "web"},
			OwnerReferences: []*corev1.OwnerReference{podview.ControllerRefTo("apps/v1", "Deployment", &corev1.ObjectMeta{Name: "x", Uid: "x"})}},
		Spec: &deploymentv1.ReplicaSetSpec{Replicas: proto.Int32(0), Selector: &corev1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: other.Spec.Template}}
	create(t, db, kinds.ReplicaSets, rs)
	d := create(t, db, kinds.Deployments, deployment("web", 2))
	c.run(t, c.syncDeployment, "default/web")
	applytest.Equal(t, "replica sets", applytest.Names(t, db, kinds.ReplicaSets), "[theirs "+name+"]")
	owners := map[string]string{}
	for _, rs := range applytest.List(t, db, kinds.ReplicaSets) {
		owners[rs.Metadata.Name] = podutil.GetControllerOf(rs.Metadata).GetUid()
	}
	if want := map[string]string{name: d.Metadata.Uid, "theirs": "x"}; fmt.Sprint(owners) != fmt.Sprint(want) {
		t.Fatalf("controllers %v, want %v", owners, want)
	}
}
