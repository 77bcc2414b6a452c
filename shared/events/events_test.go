package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/events"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestRecordAggregatesAndListFilters(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.PostgresDSN(t), testenv.Schema(t, "events"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	web := events.Ref("apps/v1", "Deployment", &corev1.ObjectMeta{Name: "web", Namespace: "default", Uid: "u1"})
	api := events.Ref("apps/v1", "Deployment", &corev1.ObjectMeta{Name: "api", Namespace: "default", Uid: "u2"})
	record := func(at time.Time, ref *corev1.ObjectReference, reason, msg string) {
		t.Helper()
		// Inside a transaction, as controllers record: a repeat must not abort it.
		if err := db.InTx(ctx, func(tx pgx.Tx) error {
			return events.Record(ctx, tx, at, "deployment-controller", ref, events.Normal, reason, msg)
		}); err != nil {
			t.Fatal(err)
		}
	}
	record(t0, web, "ScalingReplicaSet", "Scaled up replica set web-1 from 0 to 3")
	record(t0.Add(time.Second), api, "ScalingReplicaSet", "Scaled up replica set api-1 from 0 to 1")
	record(t0.Add(5*time.Second), web, "ScalingReplicaSet", "Scaled up replica set web-1 from 0 to 3") // a repeat
	record(t0.Add(5*time.Second), web, "ScalingReplicaSet", "Scaled down replica set web-1 from 3 to 2")

	hub := watch.NewHub()
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	go hub.Run(hctx, db, nil)
	srv := &events.Server{Hub: hub}
	cases := map[string]struct {
		selector string
		want     []string // reason/count/message prefix
	}{
		"all, oldest first, repeats counted": {want: []string{"api-1 x1", "web-1 from 0 to 3 x2", "web-1 from 3 to 2 x1"}},
		"one object":                         {selector: "involvedObject.name=web", want: []string{"web-1 from 0 to 3 x2", "web-1 from 3 to 2 x1"}},
		"by uid and kind":                    {selector: "involvedObject.uid=u2,involvedObject.kind=Deployment", want: []string{"api-1 x1"}},
		"nothing":                            {selector: "reason=Killing", want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp, err := srv.ListEvents(ctx, &corev1.ListEventsRequest{Namespace: "default", FieldSelector: tc.selector})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range resp.Items {
				got = append(got, short(e))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
		})
	}
	if _, err := srv.ListEvents(ctx, &corev1.ListEventsRequest{FieldSelector: "a=b=c"}); err == nil {
		t.Fatal("a malformed field selector was accepted")
	}

	// Trim: events last seen before the cutoff go (from the cache, in one statement);
	// the repeat last seen at t0+5s stays with its count, and the cache sees the deletion.
	if err := events.Trim(ctx, db, hub, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := hub.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.ListEvents(ctx, &corev1.ListEventsRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range resp.Items {
		left = append(left, short(e))
	}
	if len(left) != 2 || left[0] != "web-1 from 0 to 3 x2" || left[1] != "web-1 from 3 to 2 x1" {
		t.Fatalf("after trim: %q, want the two last seen at t0+5s", left)
	}
	if stored, _ := events.Kind.List(ctx, db.Pool, store.ListOptions{}); len(stored) != 2 {
		t.Fatalf("%d events stored after trim, want 2", len(stored))
	}
}

func short(e *corev1.Event) string {
	msg := e.GetMessage()
	for _, p := range []string{"Scaled up replica set ", "Scaled down replica set "} {
		if len(msg) > len(p) && msg[:len(p)] == p {
			msg = msg[len(p):]
		}
	}
	if msg == "api-1 from 0 to 1" {
		msg = "api-1"
	}
	return msg + " x" + string(rune('0'+e.GetCount()))
}
