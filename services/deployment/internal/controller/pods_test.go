package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/deployment/internal/kinds"
	"github.com/podwarden/podwarden/services/deployment/internal/migrations"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.PostgresDSN(t), testenv.Schema(t, "deploy"), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func viewPod(uid, phase string) *corev1.Pod {
	t := true
	return &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: "web-abc12", Namespace: "default", Uid: uid, Labels: map[string]string{"app": "web"},
			OwnerReferences: []*corev1.OwnerReference{{Kind: "ReplicaSet", Name: "web", Uid: "rs-uid", Controller: &t}}},
		Spec:   &corev1.PodSpec{},
		Status: &corev1.PodStatus{Phase: phase},
	}
}

func event(typ eventsv1.PodEvent_Type, version int64, p *corev1.Pod) *eventsv1.PodEvent {
	return &eventsv1.PodEvent{Type: typ, Version: version, Pod: p}
}

// TestApplyPodEventIsIdempotentAndOrdered: the view only moves forward by version,
// ignores other pods of the same name, and forgets a pod on DELETED.
func TestApplyPodEventIsIdempotentAndOrdered(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	// The owner exists, so unknown pods it owns are taken into the view.
	if _, err := db.Pool.Exec(ctx, "INSERT INTO objects (kind, namespace, name, uid, resource_version, data) VALUES ('ReplicaSet','default','web','rs-uid',1,'')"); err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx pgx.Tx) error { return createPod(ctx, tx, viewPod("u1", "Pending")) }); err != nil {
		t.Fatal(err)
	}
	running := viewPod("u1", "Running")
	running.Spec.NodeName = "node-1"
	steps := []struct {
		name      string
		ev        *eventsv1.PodEvent
		wantPhase string // "" = gone
	}{
		{"newer event applies", event(eventsv1.PodEvent_TYPE_MODIFIED, 5, running), "Running"},
		{"older event is dropped", event(eventsv1.PodEvent_TYPE_MODIFIED, 3, viewPod("u1", "Pending")), "Running"},
		{"repeat is harmless", event(eventsv1.PodEvent_TYPE_MODIFIED, 5, running), "Running"},
		{"another pod of that name is ignored", event(eventsv1.PodEvent_TYPE_MODIFIED, 9, viewPod("u2", "Failed")), "Running"},
		{"stale DELETED is dropped", event(eventsv1.PodEvent_TYPE_DELETED, 4, running), "Running"},
		{"DELETED removes", event(eventsv1.PodEvent_TYPE_DELETED, 6, running), ""},
		{"DELETED again is harmless", event(eventsv1.PodEvent_TYPE_DELETED, 7, running), ""},
		{"a redelivered older event does not resurrect it", event(eventsv1.PodEvent_TYPE_MODIFIED, 5, running), ""},
	}
	for _, st := range steps {
		err := db.InTx(ctx, func(tx pgx.Tx) error {
			_, err := applyPodEvent(ctx, tx, proto.Clone(st.ev).(*eventsv1.PodEvent))
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := kinds.Pods.Get(ctx, db.Pool, "default", "web-abc12")
		switch {
		case st.wantPhase == "" && !errors.Is(err, store.ErrNotFound):
			t.Fatalf("%s: pod still in view (%v)", st.name, err)
		case st.wantPhase != "" && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.wantPhase != "" && (got.Status.GetPhase() != st.wantPhase || got.Spec.GetNodeName() != "node-1"):
			t.Fatalf("%s: phase %q node %q, want %q node-1", st.name, got.Status.GetPhase(), got.Spec.GetNodeName(), st.wantPhase)
		}
	}
	// The create command went to the outbox with the pod's uid as its dedup id.
	pending, err := store.PendingOutbox(ctx, db.Pool, 10)
	if err != nil || len(pending) != 1 || pending[0].MsgID != "Pod/u1/create" {
		t.Fatalf("outbox: %v %v", pending, err)
	}
}

// TestUnknownPodOfMissingOwnerIsIgnored: events about pods whose owner this service
// does not hold (deleted, or another service's) do not enter the view.
func TestUnknownPodOfMissingOwnerIsIgnored(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		_, err := applyPodEvent(ctx, tx, event(eventsv1.PodEvent_TYPE_ADDED, 1, viewPod("u9", "Running")))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kinds.Pods.Get(ctx, db.Pool, "default", "web-abc12"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pod of a missing owner entered the view: %v", err)
	}
}

// TestResendStaleCommands: a pod the node service never reported on gets its CREATE
// again after the timeout, one deleted long ago its DELETE; fresh ones are left alone.
func TestResendStaleCommands(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	old := timestamppb.New(now.Add(-10 * time.Minute))
	mk := func(name, uid string, created *timestamppb.Timestamp, deleted *timestamppb.Timestamp, observed bool) {
		p := viewPod(uid, "Pending")
		p.Metadata.Name = name
		p.Metadata.CreationTimestamp = created
		p.Metadata.DeletionTimestamp = deleted
		if observed {
			setObservedVersion(p, 3)
		}
		if _, err := kinds.Pods.Create(ctx, db.Pool, p); err != nil {
			t.Fatal(err)
		}
	}
	mk("never-heard-of", "u1", old, nil, false)
	mk("fresh", "u2", timestamppb.New(now), nil, false)
	mk("running", "u3", old, nil, true)
	mk("stuck-deleting", "u4", old, old, true)
	mk("just-deleted", "u5", old, timestamppb.New(now), true)
	if err := db.InTx(ctx, func(tx pgx.Tx) error { return resendStaleCommands(ctx, tx, now) }); err != nil {
		t.Fatal(err)
	}
	pending, err := store.PendingOutbox(ctx, db.Pool, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range pending {
		var cmd eventsv1.PodCommand
		if err := proto.Unmarshal(m.Data, &cmd); err != nil {
			t.Fatal(err)
		}
		if _, leaked := cmd.Pod.Metadata.Annotations[observedVersionKey]; leaked {
			t.Fatalf("command carries the view's annotation: %v", cmd.Pod.Metadata.Annotations)
		}
		got = append(got, cmd.Op.String()+":"+cmd.Pod.Metadata.Name)
	}
	if fmt.Sprint(got) != "[OP_CREATE:never-heard-of OP_DELETE:stuck-deleting]" {
		t.Fatalf("resent %v", got)
	}
}
