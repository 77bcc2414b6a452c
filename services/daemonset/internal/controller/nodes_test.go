package controller

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/services/daemonset/internal/kinds"
	"github.com/podwarden/podwarden/services/daemonset/internal/migrations"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fakeLister struct {
	nodes  []*nodev1.Node
	listRV int64
}

func (f fakeLister) ListNodes(context.Context) ([]*nodev1.Node, int64, error) {
	return f.nodes, f.listRV, nil
}

var _ NodeLister = fakeLister{}

func testNode(name, uid, rv string, labels map[string]string) *nodev1.Node {
	return &nodev1.Node{Metadata: &corev1.ObjectMeta{Name: name, Uid: uid, ResourceVersion: rv, Labels: labels}}
}

func viewOf(t *testing.T, db *store.DB) string {
	t.Helper()
	nodes, err := kinds.Nodes.List(context.Background(), db.Pool, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes {
		s := n.Metadata.Name + "/" + n.Metadata.Uid
		if v := n.Metadata.Labels["v"]; v != "" {
			s += "/" + v
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestNodeViewEventsAndRepair: node events apply in version order (older and
// repeated ones dropped, deleted uids stay deleted), and a full list repairs what
// the events missed without undoing what happened after the list.
func TestNodeViewEventsAndRepair(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postgres")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.PostgresDSN(t), testenv.Schema(t, "ds"), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	apply := func(typ eventsv1.NodeEvent_Type, n *nodev1.Node, v int64) {
		t.Helper()
		err := db.InTx(ctx, func(tx pgx.Tx) error {
			_, err := applyNodeEvent(ctx, tx, &eventsv1.NodeEvent{Type: typ, Node: n, Version: v})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	apply(eventsv1.NodeEvent_TYPE_ADDED, testNode("n1", "u1", "", map[string]string{"v": "a"}), 5)
	apply(eventsv1.NodeEvent_TYPE_ADDED, testNode("n2", "u2", "", nil), 6)
	apply(eventsv1.NodeEvent_TYPE_MODIFIED, testNode("n1", "u1", "", map[string]string{"v": "old"}), 4) // older: dropped
	apply(eventsv1.NodeEvent_TYPE_DELETED, testNode("n2", "u2", "", nil), 7)
	apply(eventsv1.NodeEvent_TYPE_ADDED, testNode("n2", "u2", "", nil), 6)  // redelivered: n2 stays deleted
	apply(eventsv1.NodeEvent_TYPE_ADDED, testNode("n4", "u4", "", nil), 3)  // its deletion will be missed
	apply(eventsv1.NodeEvent_TYPE_ADDED, testNode("n5", "u5", "", nil), 11) // added after the list below
	if got, want := viewOf(t, db), "n1/u1/a n4/u4 n5/u5"; got != want {
		t.Fatalf("view after events %q, want %q", got, want)
	}
	c := &Controller{db: db, log: slog.New(slog.NewTextHandler(io.Discard, nil)), nodes: fakeLister{listRV: 10, nodes: []*nodev1.Node{
		testNode("n1", "u1", "8", map[string]string{"v": "b"}), // a missed label change
		testNode("n2", "u2", "6", nil),                         // listed before its deletion was applied
		testNode("n3", "u3", "9", nil),                         // a missed addition
	}}}
	changed, err := c.repairNodes(ctx)
	if err != nil || !changed {
		t.Fatalf("repair: changed %v, err %v", changed, err)
	}
	if got, want := viewOf(t, db), "n1/u1/b n3/u3 n5/u5"; got != want {
		t.Fatalf("view after repair %q, want %q", got, want)
	}
	if changed, err := c.repairNodes(ctx); err != nil || changed {
		t.Fatalf("second repair: changed %v, err %v", changed, err)
	}
}
