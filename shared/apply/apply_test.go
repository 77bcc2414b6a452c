package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/shared/apply/applytest"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var migrations = fstest.MapFS{"001_tombstones.up.sql": {Data: []byte(
	`CREATE TABLE tombstones (uid text PRIMARY KEY, deleted_at timestamptz NOT NULL DEFAULT now());`)}}

// widgets are a stored kind that is not a pod (a ReplicaSet, a claim, a revision).
var widgets = store.Kind[*corev1.Pod]{Name: "Widget", New: func() *corev1.Pod { return &corev1.Pod{} }}

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func openDB(t *testing.T) *store.DB { return applytest.OpenDB(t, "apply", migrations) }

func inTx(t *testing.T, db *store.DB, fn func(ctx context.Context, tx pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx pgx.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func obj(name string, labels map[string]string, owner string) *corev1.Pod {
	p := &corev1.Pod{Metadata: &corev1.ObjectMeta{Name: name, Namespace: "default", Uid: name + "-uid", Labels: labels}, Spec: &corev1.PodSpec{}}
	if owner != "" {
		p.Metadata.OwnerReferences = []*corev1.OwnerReference{podview.ControllerRefTo("apps/v1", "ReplicaSet", &corev1.ObjectMeta{Name: owner, Uid: owner})}
	}
	return p
}

func store1[T store.Object](t *testing.T, db *store.DB, k store.Kind[T], o T) T {
	t.Helper()
	o, err := k.Create(context.Background(), db.Pool, o)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func commands(t *testing.T, db *store.DB) []string { return applytest.Commands(t, db) }

func names[T store.Object](t *testing.T, db *store.DB, k store.Kind[T]) []string {
	return applytest.Names(t, db, k)
}

func reasons(t *testing.T, db *store.DB) []string { return applytest.Events(t, db) }

var owner = Owner{APIVersion: "apps/v1", Kind: "ReplicaSet", Meta: &corev1.ObjectMeta{Name: "rs", Namespace: "default", Uid: "rs"}, Component: "test-controller"}

// TestApply: one plan's writes land in the sync's transaction in order (rows,
// pod commands in the outbox), then its events on the owner; writes marked
// IgnoreExists/IgnoreNotFound tolerate what they say; an error rolls all back.
func TestApply(t *testing.T) {
	db := openDB(t)
	gone := store1(t, db, podview.Pods, obj("gone", nil, "rs"))
	w := store1(t, db, widgets, obj("w1", nil, ""))
	store1(t, db, widgets, obj("taken", nil, ""))
	w.Metadata.Labels = map[string]string{"v": "2"}
	var p Plan
	p.Add(
		Create(widgets, obj("w2", nil, "")),
		Create(widgets, obj("taken", nil, "")).IgnoreExists(),
		Update(widgets, w),
		Update(widgets, obj("missing", nil, "")).IgnoreNotFound(),
		CreatePod(obj("new", nil, "rs")),
		DeletePod(gone),
	)
	p.Event(events.Normal, "SuccessfulCreate", "Created pod: new")
	var res Result
	inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		res, err = Apply(ctx, tx, now, owner, p)
		return err
	})
	if res.Wrote != 4 || res.Collision {
		t.Fatalf("result %+v", res)
	}
	if got := fmt.Sprint(names(t, db, widgets)); got != "[taken w1 w2]" {
		t.Fatalf("widgets %s", got)
	}
	if got := fmt.Sprint(names(t, db, podview.Pods)); got != "[gone(deleting) new]" {
		t.Fatalf("pods %s", got)
	}
	if got := fmt.Sprint(commands(t, db)); got != "[OP_CREATE:new OP_DELETE:gone]" {
		t.Fatalf("commands %s", got)
	}
	if got := fmt.Sprint(reasons(t, db)); got != "[ReplicaSet/rs SuccessfulCreate: Created pod: new]" {
		t.Fatalf("events %s", got)
	}

	// A failing write rolls the whole plan back with the transaction.
	err := db.InTx(context.Background(), func(tx pgx.Tx) error {
		var p Plan
		p.Add(CreatePod(obj("rolled-back", nil, "rs")), Update(widgets, obj("missing", nil, "")))
		_, err := Apply(context.Background(), tx, now, owner, p)
		return err
	})
	if err == nil {
		t.Fatal("update of a missing widget succeeded")
	}
	if got := fmt.Sprint(names(t, db, podview.Pods)); got != "[gone(deleting) new]" {
		t.Fatalf("pods after the failed plan %s", got)
	}
}

// countingTx counts the statements sent through it.
type countingTx struct {
	pgx.Tx
	n int
}

func (c *countingTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.n++
	return c.Tx.Exec(ctx, sql, args...)
}

func (c *countingTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.n++
	return c.Tx.Query(ctx, sql, args...)
}

func (c *countingTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c.n++
	return c.Tx.QueryRow(ctx, sql, args...)
}

// TestApplyWritesRunsTogether: a run of neighbouring plain updates of one kind (or of
// pod creations) is one statement, whatever its length; a repeated object, a
// modifier or another kind ends the run; a stale object in a run fails the plan.
func TestApplyWritesRunsTogether(t *testing.T) {
	db := openDB(t)
	var ws []*corev1.Pod
	for i := range 4 {
		ws = append(ws, store1(t, db, widgets, obj(fmt.Sprintf("w%d", i), nil, "")))
	}
	relabel := func(w *corev1.Pod, v string) *corev1.Pod {
		c := proto.Clone(w).(*corev1.Pod)
		c.Metadata.Labels = map[string]string{"v": v}
		return c
	}
	statements := func(p Plan) (int, error) {
		var n int
		err := db.InTx(context.Background(), func(tx pgx.Tx) error {
			c := &countingTx{Tx: tx}
			_, err := Apply(context.Background(), c, now, owner, p)
			n = c.n
			return err
		})
		return n, err
	}
	var one, three, pods Plan
	one.Add(Update(widgets, relabel(ws[0], "1")))
	n1, err := statements(one)
	if err != nil {
		t.Fatal(err)
	}
	ws[0] = applytest.Get(t, db, widgets, "default", "w0")
	three.Add(Update(widgets, relabel(ws[1], "3")), Update(widgets, relabel(ws[2], "3")), Update(widgets, relabel(ws[3], "3")))
	n3, err := statements(three)
	if err != nil {
		t.Fatal(err)
	}
	pods.Add(CreatePod(obj("p1", nil, "rs")), CreatePod(obj("p2", nil, "rs")), Update(widgets, relabel(ws[0], "again")))
	np, err := statements(pods)
	if err != nil {
		t.Fatal(err)
	}
	if n3 != n1 || np <= n1 {
		t.Fatalf("statements: %d for one update, %d for three, %d for two pod creations and an update", n1, n3, np)
	}
	var got []string
	for _, w := range applytest.List(t, db, widgets) {
		got = append(got, w.Metadata.Name+"="+w.Metadata.Labels["v"])
	}
	if fmt.Sprint(got) != "[w0=again w1=3 w2=3 w3=3]" {
		t.Fatalf("widgets %v", got)
	}
	if got := fmt.Sprint(names(t, db, podview.Pods)); got != "[p1 p2]" {
		t.Fatalf("pods %s", got)
	}
	// A stale copy (w2 as first stored) fails the whole run.
	var stale Plan
	stale.Add(Update(widgets, relabel(ws[2], "4")), Update(widgets, relabel(applytest.Get(t, db, widgets, "default", "w3"), "4")))
	if _, err := statements(stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale run: %v", err)
	}
	// The same object twice is two statements, applied in order.
	var twice Plan
	w3 := applytest.Get(t, db, widgets, "default", "w3")
	twice.Add(Update(widgets, relabel(w3, "5")), Update(widgets, relabel(w3, "6")))
	if _, err := statements(twice); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the same object twice at one resourceVersion: %v", err)
	}
}

// deployments have a status.collisionCount.
var deployments = store.Kind[*deploymentv1.Deployment]{Name: "Deployment", New: func() *deploymentv1.Deployment { return &deploymentv1.Deployment{} }}

// TestApplyCollision: a Unique create whose name is taken stops the plan there,
// after the owner counted the collision.
func TestApplyCollision(t *testing.T) {
	db := openDB(t)
	store1(t, db, widgets, obj("web-hash", nil, ""))
	d := store1(t, db, deployments, &deploymentv1.Deployment{Metadata: &corev1.ObjectMeta{Name: "web", Namespace: "default"}})
	var p Plan
	p.Add(Create(widgets, obj("web-hash", nil, "")).Unique(CountCollision(deployments, d)), CreatePod(obj("after", nil, "")))
	p.Event(events.Normal, "ScalingReplicaSet", "never")
	for want := int32(1); want <= 2; want++ {
		var res Result
		inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
			var err error
			res, err = Apply(ctx, tx, now, owner, p)
			return err
		})
		if !res.Collision || res.Wrote != 0 {
			t.Fatalf("result %+v", res)
		}
		got, err := deployments.Get(context.Background(), db.Pool, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		if got.GetStatus().GetCollisionCount() != want {
			t.Fatalf("collisionCount %d, want %d", got.GetStatus().GetCollisionCount(), want)
		}
	}
	if n := names(t, db, podview.Pods); len(n) != 0 {
		t.Fatalf("wrote pods after the collision: %v", n)
	}
	if r := reasons(t, db); len(r) != 0 {
		t.Fatalf("recorded events after the collision: %v", r)
	}
}

// TestApplyReuse: a CreateOrReuse create whose name holds the very object
// wanted (as its same says) is done, and the plan goes on; holding another
// object, it is a hash collision (Unique: the owner's count, and the plan
// stops); a collision whose count cannot be written fails the sync.
func TestApplyReuse(t *testing.T) {
	sameV := func(want *corev1.Pod) func(*corev1.Pod) bool {
		return func(stored *corev1.Pod) bool {
			return stored.GetMetadata().GetLabels()["v"] == want.GetMetadata().GetLabels()["v"]
		}
	}
	cases := map[string]struct {
		stored        map[string]string // labels of what holds the name; nil: free
		staleOwner    bool
		wantCollision bool
		wantCount     int32
		wantPods      []string
		wantErr       bool
	}{
		"free name":                    {wantPods: []string{"after"}},
		"the same object: reused":      {stored: map[string]string{"v": "1"}, wantPods: []string{"after"}},
		"another object: a collision":  {stored: map[string]string{"v": "2"}, wantCollision: true, wantCount: 1},
		"a collision, count not saved": {stored: map[string]string{"v": "2"}, staleOwner: true, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := openDB(t)
			if tc.stored != nil {
				store1(t, db, widgets, obj("web-hash", tc.stored, ""))
			}
			d := store1(t, db, deployments, &deploymentv1.Deployment{Metadata: &corev1.ObjectMeta{Name: "web", Namespace: "default"}})
			if tc.staleOwner {
				d.Metadata.ResourceVersion = "1"
			}
			want := obj("web-hash", map[string]string{"v": "1"}, "")
			var p Plan
			p.Add(CreateOrReuse(widgets, want, sameV(want)).Unique(CountCollision(deployments, d)), CreatePod(obj("after", nil, "")))
			var res Result
			err := db.InTx(context.Background(), func(tx pgx.Tx) error {
				var err error
				res, err = Apply(context.Background(), tx, now, owner, p)
				return err
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if res.Collision != tc.wantCollision {
				t.Fatalf("result %+v, want collision %v", res, tc.wantCollision)
			}
			got, err := deployments.Get(context.Background(), db.Pool, "default", "web")
			if err != nil {
				t.Fatal(err)
			}
			if got.GetStatus().GetCollisionCount() != tc.wantCount {
				t.Fatalf("collisionCount %d, want %d", got.GetStatus().GetCollisionCount(), tc.wantCount)
			}
			if n := names(t, db, podview.Pods); fmt.Sprint(n) != fmt.Sprint(tc.wantPods) {
				t.Fatalf("pods %v, want %v", n, tc.wantPods)
			}
			stored, err := widgets.Get(context.Background(), db.Pool, "default", "web-hash")
			if err != nil {
				t.Fatal(err)
			}
			if want := cmp.Or(tc.stored["v"], "1"); stored.GetMetadata().GetLabels()["v"] != want {
				t.Fatalf("stored object has v=%s, want %s", stored.GetMetadata().GetLabels()["v"], want)
			}
		})
	}
}

// TestClaimPods: Kubernetes' ClaimPods on the view's cache (ClaimCached, then its
// writes applied). The owner (ReplicaSet "rs",
// selector app=web) keeps its matching pods, adopts matching live orphans and
// releases its pods that no longer match; a deleting owner adopts and releases
// nothing. Every change of ownership is told to the node service.
func TestClaimPods(t *testing.T) {
	cases := map[string]struct {
		deleting   bool
		wantOwned  []string
		wantOwners map[string]string
		wantOps    []string
	}{
		"live owner": {
			wantOwned: []string{"adoptable", "kept"},
			wantOwners: map[string]string{"kept": "rs", "mismatched": "", "adoptable": "rs", "orphan-other-app": "",
				"orphan-deleting": "", "others": "other"},
			wantOps: []string{"OP_UPDATE:adoptable", "OP_UPDATE:mismatched"},
		},
		"deleting owner adopts and releases nothing": {
			deleting:  true,
			wantOwned: []string{"kept"},
			wantOwners: map[string]string{"kept": "rs", "mismatched": "rs", "adoptable": "", "orphan-other-app": "",
				"orphan-deleting": "", "others": "other"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := openDB(t)
			web, other := map[string]string{"app": "web"}, map[string]string{"app": "db"}
			store1(t, db, podview.Pods, obj("kept", web, "rs"))
			store1(t, db, podview.Pods, obj("mismatched", other, "rs"))
			store1(t, db, podview.Pods, obj("adoptable", web, ""))
			store1(t, db, podview.Pods, obj("orphan-other-app", other, ""))
			deleting := obj("orphan-deleting", web, "")
			deleting.Metadata.DeletionTimestamp = timestamppb.New(now)
			store1(t, db, podview.Pods, deleting)
			store1(t, db, podview.Pods, obj("others", web, "other"))
			m := proto.Clone(owner.Meta).(*corev1.ObjectMeta)
			if tc.deleting {
				m.DeletionTimestamp = timestamppb.New(now)
			}
			store1(t, db, widgets, &corev1.Pod{Metadata: proto.Clone(m).(*corev1.ObjectMeta)}) // the owner, rechecked by an adoption
			hub := applytest.Hub(t, db)
			cache := watch.For(hub, podview.Pods, nil)
			if err := hub.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := cache.Synced(context.Background()); err != nil {
				t.Fatal(err)
			}
			owned, claims := ClaimCached(cache, Recheck(widgets, m), m, podview.ControllerRefTo("apps/v1", "ReplicaSet", m),
				Selector{Matches: k8slabels.SelectorFromSet(web), MatchLabels: web}, UpdatePod)
			inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
				_, err := Apply(ctx, tx, now, Owner{}, claims)
				return err
			})
			var got []string
			for _, p := range owned {
				got = append(got, p.Metadata.Name)
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(tc.wantOwned) {
				t.Fatalf("owned %v, want %v", got, tc.wantOwned)
			}
			pods, err := podview.Pods.List(context.Background(), db.Pool, store.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			owners := map[string]string{}
			for _, p := range pods {
				owners[p.Metadata.Name] = podutil.GetControllerOf(p.Metadata).GetUid()
			}
			if fmt.Sprint(owners) != fmt.Sprint(tc.wantOwners) {
				t.Fatalf("controllers %v, want %v", owners, tc.wantOwners)
			}
			if ops := commands(t, db); fmt.Sprint(ops) != fmt.Sprint(tc.wantOps) {
				t.Fatalf("commands %v, want %v", ops, tc.wantOps)
			}
			// Each UPDATE command tells the node service the pod's new controller.
			pending, err := store.PendingOutbox(context.Background(), db.Pool, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range pending {
				var cmd eventsv1.PodCommand
				if err := proto.Unmarshal(m.Data, &cmd); err != nil {
					t.Fatal(err)
				}
				pm := cmd.GetPod().GetMetadata()
				if got := podutil.GetControllerOf(pm).GetUid(); got != owners[pm.GetName()] {
					t.Fatalf("command for %s names controller %q, want %q", pm.GetName(), got, owners[pm.GetName()])
				}
			}
		})
	}
}

// TestForeground: the steps of a foreground deletion against the store: the
// dependents are deleted (once), the owner stays while they exist, then goes;
// an owner with another finalizer only loses foregroundDeletion.
func TestForeground(t *testing.T) {
	for name, finalizers := range map[string][]string{
		"only foregroundDeletion": {crud.FinalizerForeground},
		"another finalizer":       {"example.com/keep", crud.FinalizerForeground},
	} {
		t.Run(name, func(t *testing.T) {
			db := openDB(t)
			o := obj("rs", nil, "")
			o.Metadata.Uid = "rs"
			o.Metadata.DeletionTimestamp = timestamppb.New(now)
			o.Metadata.Finalizers = finalizers
			store1(t, db, widgets, o)
			store1(t, db, podview.Pods, obj("a", nil, "rs"))
			store1(t, db, podview.Pods, obj("b", nil, "rs"))
			step := func() {
				inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
					cur, err := widgets.Get(ctx, tx, "default", "rs")
					if err != nil {
						return err
					}
					deps, err := podview.Pods.List(ctx, tx, store.ListOptions{Namespace: "default", OwnerUID: "rs"})
					if err != nil {
						return err
					}
					_, err = Apply(ctx, tx, now, owner, Foreground(widgets, cur, deps, DeletePod))
					return err
				})
			}
			step()
			step()
			if got := fmt.Sprint(commands(t, db)); got != "[OP_DELETE:a OP_DELETE:b]" {
				t.Fatalf("commands %s", got)
			}
			if got := fmt.Sprint(names(t, db, widgets)); got != "[rs(deleting)]" {
				t.Fatalf("owner went before its pods: %s", got)
			}
			// The node service reports the pods gone.
			inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "DELETE FROM objects WHERE kind='Pod'")
				return err
			})
			step()
			got, err := widgets.List(context.Background(), db.Pool, store.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case len(finalizers) == 1 && len(got) != 0:
				t.Fatalf("owner stays: %v", got[0].Metadata)
			case len(finalizers) == 2 && (len(got) != 1 || fmt.Sprint(got[0].Metadata.Finalizers) != "[example.com/keep]"):
				t.Fatalf("owner %v", got)
			}
		})
	}
}

// TestCollectGarbage: the objects in scope whose controller is gone are deleted;
// those of a live owner, those without a controller and those of owners out of scope
// stay.
func TestCollectGarbage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scope GCScope
		n     int
		left  string
	}{
		{"all", GCScope{All: true}, 2, "[live of-live orphan]"},
		{"one gone owner", GCScope{Owners: []string{"gone"}}, 1, "[live of-gone2 of-live orphan]"},
		{"both gone owners", GCScope{Owners: []string{"gone", "gone2"}}, 2, "[live of-live orphan]"},
		{"a live owner", GCScope{Owners: []string{"live"}}, 0, "[live of-gone of-gone2 of-live orphan]"},
		{"repair only", GCScope{Repair: true}, 0, "[live of-gone of-gone2 of-live orphan]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			live := obj("live", nil, "")
			live.Metadata.Uid = "live"
			store1(t, db, widgets, live)
			store1(t, db, widgets, obj("of-live", nil, "live"))
			store1(t, db, widgets, obj("of-gone", nil, "gone"))
			store1(t, db, widgets, obj("of-gone2", nil, "gone2"))
			store1(t, db, widgets, obj("orphan", nil, ""))
			var n int
			inTx(t, db, func(ctx context.Context, tx pgx.Tx) error {
				var err error
				n, err = CollectGarbage(ctx, tx, now, widgets, tc.scope)
				return err
			})
			if got := fmt.Sprint(names(t, db, widgets)); n != tc.n || got != tc.left {
				t.Fatalf("collected %d, left %s; want %d, %s", n, got, tc.n, tc.left)
			}
		})
	}
}
