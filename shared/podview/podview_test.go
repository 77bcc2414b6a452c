package podview

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
)

// testPrivate is a bookkeeping annotation of the test's view, like the job
// service's counted mark.
const testPrivate = "test.podwarden.io/counted"

func TestMain(m *testing.M) {
	PrivateAnnotations(testPrivate)
	testenv.Main(m)
}

// migrations are what a service's migrations give its view: a tombstone table,
// under both names the services use.
var migrations = fstest.MapFS{"001_tombstones.up.sql": {Data: []byte(`
CREATE TABLE tombstones (uid text PRIMARY KEY, deleted_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE pod_tombstones (uid text PRIMARY KEY, deleted_at timestamptz NOT NULL DEFAULT now());
`)}}

// views are the tombstone tables of the services (daemonset, deployment and job).
var views = map[string]View{"tombstones": Default, "pod_tombstones": {Tombstones: "pod_tombstones"}}

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), testenv.PostgresDSN(t), testenv.Schema(t, "podview"), migrations)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// addOwner stores an object a view's pods can be controlled by.
func addOwner(t *testing.T, db *store.DB, kind, name, uid string) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(),
		"INSERT INTO objects (kind, namespace, name, uid, resource_version, data) VALUES ($1,'default',$2,$3,1,'')", kind, name, uid)
	if err != nil {
		t.Fatal(err)
	}
}

func ownerRef(kind, name, uid string) *corev1.OwnerReference {
	return ControllerRefTo("apps/v1", kind, &corev1.ObjectMeta{Name: name, Uid: uid})
}

func viewPod(uid, phase string) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &corev1.ObjectMeta{Name: "web-abc12", Namespace: "default", Uid: uid, Labels: map[string]string{"app": "web"},
			OwnerReferences: []*corev1.OwnerReference{ownerRef("ReplicaSet", "web", "rs-uid")}},
		Spec:   &corev1.PodSpec{},
		Status: &corev1.PodStatus{Phase: phase},
	}
}

func event(typ eventsv1.PodEvent_Type, version int64, p *corev1.Pod) *eventsv1.PodEvent {
	return &eventsv1.PodEvent{Type: typ, Version: version, Pod: p}
}

func apply(t *testing.T, db *store.DB, v View, ev *eventsv1.PodEvent) []Owner {
	t.Helper()
	var woken []Owner
	err := db.InTx(context.Background(), func(tx pgx.Tx) error {
		var err error
		woken, err = v.Apply(context.Background(), tx, proto.Clone(ev).(*eventsv1.PodEvent))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return woken
}

// distinct is the owners woken, each once, in order, as "[{Kind ns/name} ...]"
// (Apply may name one twice: the event's pod and the view's row).
func distinct(woken []Owner) string {
	seen := map[Owner]bool{}
	var out []string
	for _, o := range woken {
		if !seen[o] {
			seen[o] = true
			out = append(out, fmt.Sprint(o))
		}
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

func inTx(t *testing.T, db *store.DB, fn func(ctx context.Context, tx pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx pgx.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

// commands are the pod commands in the outbox, as "OP_X:name" (and their message ids).
func commands(t *testing.T, db *store.DB) (ops []string, cmds []*eventsv1.PodCommand, msgIDs []string) {
	t.Helper()
	pending, err := store.PendingOutbox(context.Background(), db.Pool, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range pending {
		var cmd eventsv1.PodCommand
		if err := proto.Unmarshal(m.Data, &cmd); err != nil {
			t.Fatal(err)
		}
		if m.Subject != bus.PodCommandSubject(cmd.Pod.Metadata.Namespace) {
			t.Fatalf("command on subject %q", m.Subject)
		}
		if a := cmd.Pod.Metadata.Annotations; a[ObservedVersionKey] != "" || a[testPrivate] != "" {
			t.Fatalf("command carries the view's annotation: %v", a)
		}
		ops = append(ops, cmd.Op.String()+":"+cmd.Pod.Metadata.Name)
		cmds = append(cmds, &cmd)
		msgIDs = append(msgIDs, m.MsgID)
	}
	return ops, cmds, msgIDs
}

// TestApplyIsIdempotentAndOrdered: the view only moves forward by version,
// ignores other pods of the same name, forgets a pod on DELETED and, through its
// tombstone, never takes it back; with either tombstone table.
func TestApplyIsIdempotentAndOrdered(t *testing.T) {
	for name, v := range views {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t)
			// The owner exists, so unknown pods it controls are taken into the view.
			addOwner(t, db, "ReplicaSet", "web", "rs-uid")
			inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
				_, err := Create(ctx, tx, viewPod("u1", "Pending"))
				return err
			})
			running := viewPod("u1", "Running")
			running.Spec.NodeName = "node-1"
			terminating := proto.Clone(running).(*corev1.Pod)
			terminating.Metadata.DeletionTimestamp = timestamppb.New(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
			terminating.Metadata.DeletionGracePeriodSeconds = proto.Int64(5)
			steps := []struct {
				name        string
				ev          *eventsv1.PodEvent
				wantPhase   string // "" = gone
				wantDeleted bool
			}{
				{name: "newer event applies", ev: event(eventsv1.PodEvent_TYPE_MODIFIED, 5, running), wantPhase: "Running"},
				{name: "older event is dropped", ev: event(eventsv1.PodEvent_TYPE_MODIFIED, 3, viewPod("u1", "Pending")), wantPhase: "Running"},
				{name: "repeat is harmless", ev: event(eventsv1.PodEvent_TYPE_MODIFIED, 5, running), wantPhase: "Running"},
				{name: "another pod of that name is ignored", ev: event(eventsv1.PodEvent_TYPE_MODIFIED, 9, viewPod("u2", "Failed")), wantPhase: "Running"},
				{name: "stale DELETED is dropped", ev: event(eventsv1.PodEvent_TYPE_DELETED, 4, running), wantPhase: "Running"},
				{name: "deletion is taken from the node service", ev: event(eventsv1.PodEvent_TYPE_MODIFIED, 6, terminating), wantPhase: "Running", wantDeleted: true},
				{name: "DELETED removes", ev: event(eventsv1.PodEvent_TYPE_DELETED, 7, running), wantPhase: ""},
				{name: "DELETED again is harmless", ev: event(eventsv1.PodEvent_TYPE_DELETED, 8, running), wantPhase: ""},
				{name: "a redelivered older event does not resurrect it", ev: event(eventsv1.PodEvent_TYPE_MODIFIED, 5, running), wantPhase: ""},
			}
			for _, st := range steps {
				woken := apply(t, db, v, st.ev)
				if distinct(woken) != "[{ReplicaSet default/web}]" {
					t.Fatalf("%s: woke %v", st.name, woken)
				}
				got, err := Pods.Get(ctx, db.Pool, "default", "web-abc12")
				switch {
				case st.wantPhase == "" && !errors.Is(err, store.ErrNotFound):
					t.Fatalf("%s: pod still in view (%v)", st.name, err)
				case st.wantPhase == "":
				case err != nil:
					t.Fatalf("%s: %v", st.name, err)
				case got.Status.GetPhase() != st.wantPhase || got.Spec.GetNodeName() != "node-1":
					t.Fatalf("%s: phase %q node %q, want %q node-1", st.name, got.Status.GetPhase(), got.Spec.GetNodeName(), st.wantPhase)
				case (got.Metadata.DeletionTimestamp != nil) != st.wantDeleted || st.wantDeleted && got.Metadata.GetDeletionGracePeriodSeconds() != 5:
					t.Fatalf("%s: deletion %v grace %d", st.name, got.Metadata.DeletionTimestamp, got.Metadata.GetDeletionGracePeriodSeconds())
				}
			}
			var n int
			if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM "+v.Tombstones+" WHERE uid='u1'").Scan(&n); err != nil || n != 1 {
				t.Fatalf("tombstone of u1 in %s: %d %v", v.Tombstones, n, err)
			}
			// The create command went to the outbox with the pod's uid as its dedup id.
			ops, _, ids := commands(t, db)
			if fmt.Sprint(ops) != "[OP_CREATE:web-abc12]" || ids[0] != "Pod/u1/create" {
				t.Fatalf("outbox: %v %v", ops, ids)
			}
		})
	}
}

// TestApplyUnknownPod: a pod the view does not have enters it only when its
// controller is an object of that kind in the schema (or, for a view that takes
// them, when it has none), and never once tombstoned.
func TestApplyUnknownPod(t *testing.T) {
	bare := func() *corev1.Pod {
		p := viewPod("u9", "Running")
		p.Metadata.OwnerReferences = nil
		return p
	}
	ownedBy := func(kind, uid string) *corev1.Pod {
		p := viewPod("u9", "Running")
		p.Metadata.OwnerReferences = []*corev1.OwnerReference{ownerRef(kind, "web", uid)}
		return p
	}
	cases := map[string]struct {
		view      View
		ev        *eventsv1.PodEvent
		tombstone bool
		wantTaken bool
		wantWoken string
	}{
		"owner of ours": {
			view: Default, ev: event(eventsv1.PodEvent_TYPE_ADDED, 1, ownedBy("ReplicaSet", "rs-uid")),
			wantTaken: true, wantWoken: "[{ReplicaSet default/web}]"},
		"owner missing (deleted, or another service's)": {
			view: Default, ev: event(eventsv1.PodEvent_TYPE_ADDED, 1, ownedBy("ReplicaSet", "gone-uid")), wantWoken: "[]"},
		"owner uid of another kind": {
			view: Default, ev: event(eventsv1.PodEvent_TYPE_ADDED, 1, ownedBy("DaemonSet", "rs-uid")), wantWoken: "[]"},
		"bare pod": {
			view: Default, ev: event(eventsv1.PodEvent_TYPE_ADDED, 1, bare()), wantWoken: "[]"},
		"bare pod in a view that takes the unowned": {
			view: View{Tombstones: "tombstones", Unowned: true}, ev: event(eventsv1.PodEvent_TYPE_ADDED, 1, bare()),
			wantTaken: true, wantWoken: "[]"},
		"tombstoned": {
			view: Default, ev: event(eventsv1.PodEvent_TYPE_MODIFIED, 3, ownedBy("ReplicaSet", "rs-uid")),
			tombstone: true, wantWoken: "[{ReplicaSet default/web}]"},
		"DELETED of a pod never seen": {
			view: Default, ev: event(eventsv1.PodEvent_TYPE_DELETED, 2, ownedBy("ReplicaSet", "rs-uid")),
			wantWoken: "[{ReplicaSet default/web}]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t)
			addOwner(t, db, "ReplicaSet", "web", "rs-uid")
			if tc.tombstone {
				if _, err := db.Pool.Exec(ctx, "INSERT INTO tombstones (uid) VALUES ('u9')"); err != nil {
					t.Fatal(err)
				}
			}
			woken := apply(t, db, tc.view, tc.ev)
			if distinct(woken) != tc.wantWoken {
				t.Fatalf("woke %v, want %s", woken, tc.wantWoken)
			}
			got, err := Pods.Get(ctx, db.Pool, "default", "web-abc12")
			switch {
			case tc.wantTaken && err != nil:
				t.Fatalf("pod not taken: %v", err)
			case tc.wantTaken && (ObservedVersion(got) != 1 || got.Status.GetPhase() != "Running"):
				t.Fatalf("taken as %v", got)
			case !tc.wantTaken && !errors.Is(err, store.ErrNotFound):
				t.Fatalf("pod entered the view: %v", err)
			}
			if tc.ev.GetType() == eventsv1.PodEvent_TYPE_DELETED {
				var n int
				if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM tombstones WHERE uid='u9'").Scan(&n); err != nil || n != 1 {
					t.Fatalf("no tombstone: %d %v", n, err)
				}
			}
		})
	}
}

// TestApplyBatch: one transaction for a batch; undecodable events are reported
// and skipped; each owner is woken once.
func TestApplyBatch(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	addOwner(t, db, "ReplicaSet", "web", "rs-uid")
	msg := func(ev *eventsv1.PodEvent) bus.Received {
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return bus.Received{Subject: bus.PodEventSubject("ReplicaSet"), Data: b}
	}
	other := viewPod("u2", "Pending")
	other.Metadata.Name = "web-def34"
	msgs := []bus.Received{
		msg(event(eventsv1.PodEvent_TYPE_ADDED, 1, viewPod("u1", "Pending"))),
		{Subject: "pods.events.ReplicaSet", Data: []byte("\xff not a pod event")},
		msg(event(eventsv1.PodEvent_TYPE_ADDED, 2, other)),
		msg(&eventsv1.PodEvent{Type: eventsv1.PodEvent_TYPE_ADDED, Version: 3}), // no pod: skipped
	}
	var dropped []string
	owners, _, err := Default.ApplyBatch(ctx, db, msgs, func(subject string, err error) { dropped = append(dropped, subject) })
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(owners) != "[{ReplicaSet default/web}]" || fmt.Sprint(dropped) != "[pods.events.ReplicaSet]" {
		t.Fatalf("owners %v dropped %v", owners, dropped)
	}
	pods, err := Pods.List(ctx, db.Pool, store.ListOptions{Namespace: "default"})
	if err != nil || len(pods) != 2 {
		t.Fatalf("view has %d pods (%v)", len(pods), err)
	}
}

// TestCreateAndDelete: a create stores the pod and its CREATE command; a delete
// marks it terminating (leaving the caller's copy alone) and sends DELETE once.
// The view's bookkeeping stays in the view.
func TestCreateAndDelete(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 500, time.UTC)
	var created *corev1.Pod
	inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		p := viewPod("u1", "Pending")
		p.Metadata.Annotations = map[string]string{testPrivate: "no", "team": "a"}
		created, err = Create(ctx, tx, p)
		return err
	})
	if created.Metadata.ResourceVersion == "" {
		t.Fatalf("created pod has no resourceVersion: %v", created.Metadata)
	}
	inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
		_, err := Create(ctx, tx, viewPod("u1", "Pending"))
		if !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("second create: %v, want ErrAlreadyExists", err)
		}
		return nil
	})
	for range 2 {
		inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
			p, err := Pods.Get(ctx, tx, "default", "web-abc12")
			if err != nil {
				return err
			}
			if err := Delete(ctx, tx, p, now); err != nil {
				return err
			}
			if p.Metadata.DeletionTimestamp != nil && p.Metadata.DeletionTimestamp.AsTime() == now {
				return errors.New("Delete changed the caller's pod")
			}
			return nil
		})
	}
	got, err := Pods.Get(ctx, db.Pool, "default", "web-abc12")
	if err != nil || !got.Metadata.DeletionTimestamp.AsTime().Equal(now.Truncate(time.Second)) || got.Metadata.Annotations[testPrivate] != "no" {
		t.Fatalf("pod after delete: %v %v", got, err)
	}
	ops, cmds, ids := commands(t, db)
	for _, c := range cmds {
		if c.Pod.Metadata.Annotations["team"] != "a" {
			t.Fatalf("%s lost the pod's own annotations: %v", c.Op, c.Pod.Metadata.Annotations)
		}
	}
	if fmt.Sprint(ops) != "[OP_CREATE:web-abc12 OP_DELETE:web-abc12]" || fmt.Sprint(ids) != "[Pod/u1/create Pod/u1/delete]" {
		t.Fatalf("commands %v %v", ops, ids)
	}
}

// TestForNode: the view's bookkeeping annotations never reach the node service,
// and the view's own copy keeps them.
func TestForNode(t *testing.T) {
	cases := map[string]struct {
		annotations map[string]string
		want        map[string]string
		same        bool
	}{
		"nothing private": {annotations: map[string]string{"a": "1"}, want: map[string]string{"a": "1"}, same: true},
		"no annotations":  {same: true},
		"observed version": {
			annotations: map[string]string{"a": "1", ObservedVersionKey: "4"}, want: map[string]string{"a": "1"}},
		"declared private": {
			annotations: map[string]string{ObservedVersionKey: "4", testPrivate: "Succeeded"}, want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := viewPod("u1", "Running")
			p.Metadata.Annotations = tc.annotations
			before := proto.Clone(p)
			got := ForNode(p)
			if !proto.Equal(p, before) {
				t.Fatalf("ForNode changed its argument: %v", p.Metadata.Annotations)
			}
			if fmt.Sprint(got.Metadata.Annotations) != fmt.Sprint(tc.want) || (got == p) != tc.same {
				t.Fatalf("annotations %v (same pod %v), want %v (same %v)", got.Metadata.Annotations, got == p, tc.want, tc.same)
			}
		})
	}
}

// TestRepair: a pod the node service never reported on gets its CREATE again
// after the timeout, one deleted long ago (past its grace) its DELETE; fresh ones
// are left alone; a candidate the cache has stale is decided on its stored copy;
// tombstones older than an hour go.
func TestRepair(t *testing.T) {
	for name, v := range views {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t)
			now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
			old := timestamppb.New(now.Add(-10 * time.Minute))
			mk := func(name, uid string, created, deleted *timestamppb.Timestamp, observed bool, grace *int64) {
				p := viewPod(uid, "Pending")
				p.Metadata.Name = name
				p.Metadata.CreationTimestamp = created
				p.Metadata.DeletionTimestamp = deleted
				p.Metadata.DeletionGracePeriodSeconds = grace
				if observed {
					setObservedVersion(p, 3)
				}
				if _, err := Pods.Create(ctx, db.Pool, p); err != nil {
					t.Fatal(err)
				}
			}
			mk("never-heard-of", "u1", old, nil, false, nil)
			mk("fresh", "u2", timestamppb.New(now), nil, false, nil)
			mk("running", "u3", old, nil, true, nil)
			mk("stuck-deleting", "u4", old, old, true, nil)
			mk("just-deleted", "u5", old, timestamppb.New(now), true, nil)
			mk("long-grace", "u6", old, old, true, proto.Int64(600))
			mk("heard-of-since", "u7", old, nil, true, nil)
			if _, err := db.Pool.Exec(ctx, "INSERT INTO "+v.Tombstones+" (uid, deleted_at) VALUES ('old', now() - interval '2 hours'), ('recent', now())"); err != nil {
				t.Fatal(err)
			}
			cached, err := Pods.List(ctx, db.Pool, store.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range cached {
				if p.Metadata.Name == "heard-of-since" { // the cache has not seen its report yet
					cached[i] = viewPod("u7", "Pending")
					cached[i].Metadata.Name, cached[i].Metadata.CreationTimestamp = "heard-of-since", old
				}
			}
			inTx(t, db, func(ctx context.Context, tx pgx.Tx) error { return v.Repair(ctx, tx, now, cached) })
			ops, _, ids := commands(t, db)
			sort.Strings(ops)
			if fmt.Sprint(ops) != "[OP_CREATE:never-heard-of OP_DELETE:stuck-deleting]" {
				t.Fatalf("resent %v", ops)
			}
			for _, id := range ids {
				if id == "Pod/u1/create" || id == "Pod/u4/delete" {
					t.Fatalf("resent under the first message id %q (JetStream would drop it as a duplicate)", id)
				}
			}
			var left []string
			rows, err := db.Pool.Query(ctx, "SELECT uid FROM "+v.Tombstones)
			if err != nil {
				t.Fatal(err)
			}
			left, err = pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil || fmt.Sprint(left) != "[recent]" {
				t.Fatalf("tombstones left %v %v", left, err)
			}
		})
	}
}

// TestRefusals: a DELETED event with create_refused is a refusal for the pod's
// controller; other events, and refusals of bare pods, are not.
func TestRefusals(t *testing.T) {
	yes := true
	owned := func(name string) *corev1.Pod {
		return &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "ns",
			OwnerReferences: []*corev1.OwnerReference{{Kind: "ReplicaSet", Name: "web", Uid: "rs-uid", Controller: &yes}}}}
	}
	got := Refusals([]*eventsv1.PodEvent{
		{Type: eventsv1.PodEvent_TYPE_DELETED, Pod: owned("a"), CreateRefused: `pods "a" is forbidden: exceeded quota: q`},
		{Type: eventsv1.PodEvent_TYPE_DELETED, Pod: owned("b")},
		{Type: eventsv1.PodEvent_TYPE_MODIFIED, Pod: owned("c"), CreateRefused: "ignored"},
		{Type: eventsv1.PodEvent_TYPE_DELETED, Pod: &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: "bare"}}, CreateRefused: "no owner"},
	})
	want := Refusal{Owner: Owner{Kind: "ReplicaSet", Key: "ns/web"}, OwnerUID: "rs-uid", Pod: "a", Message: `pods "a" is forbidden: exceeded quota: q`}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("refusals %+v, want [%+v]", got, want)
	}
}
