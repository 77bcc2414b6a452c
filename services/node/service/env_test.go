package service_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/podwarden/podwarden/services/node/service"
	"github.com/podwarden/podwarden/shared/app"
	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/testenv"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	eventsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/events/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var dbSeq atomic.Int64

// freshDatabase creates a database of its own for one test: the service always
// uses the schema "node", so tests are kept apart by database.
func freshDatabase(t *testing.T) string {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect postgres: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("nodetest_%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(context.Background())
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// env is one node service (restartable) on its own database and NATS.
type env struct {
	t       *testing.T
	dsn     string
	nc      *nats.Conn
	js      jetstream.JetStream
	conn    *grpc.ClientConn
	nodes   nodev1.NodeServiceClient
	pods    nodev1.PodServiceClient
	events  corev1.EventServiceClient
	cfg     service.Config
	stop    context.CancelFunc
	done    chan error
	podEvts *podEvents
}

func newEnv(t *testing.T, mutate func(*service.Config)) *env {
	t.Helper()
	n := testenv.NATS(t)
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dsn: freshDatabase(t), nc: nc, js: js}
	e.cfg = service.Config{App: app.Config{PostgresDSN: e.dsn, NATSConn: nc, LeaseTTL: 2 * time.Second, Resync: 2 * time.Second, ReplicaID: "test"}}
	if mutate != nil {
		mutate(&e.cfg)
	}
	e.start()
	t.Cleanup(e.shutdown)
	e.podEvts = e.watchPodEvents()
	return e
}

// start runs the service in-process on a fresh loopback port.
func (e *env) start() {
	e.t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := e.cfg
	cfg.App.Listener = lis
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done = cancel, make(chan error, 1)
	go func() { e.done <- service.Run(ctx, cfg) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatal(err)
	}
	e.conn = conn
	e.nodes, e.pods, e.events = nodev1.NewNodeServiceClient(conn), nodev1.NewPodServiceClient(conn), corev1.NewEventServiceClient(conn)
	testenv.Eventually(e.t, 30*time.Second, "the service answers", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		l, err := e.nodes.ListNodes(ctx, &nodev1.ListNodesRequest{})
		return err == nil && len(l.Items) > 0 || e.cfg.Nodes < 0 && err == nil
	})
}

func (e *env) shutdown() {
	if e.stop == nil {
		return
	}
	e.stop()
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("service.Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		e.t.Error("service did not stop")
	}
	_ = e.conn.Close()
	e.stop = nil
}

func (e *env) restart() {
	e.shutdown()
	e.start()
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// podEvents keeps the latest PodEvent per pod uid from pods.events.>.
type podEvents struct {
	mu     sync.Mutex
	latest map[string]*eventsv1.PodEvent
	byKind map[string]int
}

func (e *env) watchPodEvents() *podEvents {
	pe := &podEvents{latest: map[string]*eventsv1.PodEvent{}, byKind: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	var cons jetstream.Consumer
	testenv.Eventually(e.t, 10*time.Second, "an ordered consumer of pod events", func() bool {
		var err error
		cons, err = e.js.OrderedConsumer(ctx, bus.StreamPodEvents, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"pods.events.>"}})
		return err == nil
	})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev := &eventsv1.PodEvent{}
		if proto.Unmarshal(m.Data(), ev) != nil {
			return
		}
		pe.mu.Lock()
		defer pe.mu.Unlock()
		pe.byKind[m.Subject()]++
		uid := ev.GetPod().GetMetadata().GetUid()
		if old, ok := pe.latest[uid]; !ok || ev.GetVersion() >= old.GetVersion() {
			pe.latest[uid] = ev
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cc.Stop)
	return pe
}

func (pe *podEvents) get(uid string) *eventsv1.PodEvent {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.latest[uid]
}

func (pe *podEvents) count(subject string) int {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.byKind[subject]
}

var rsUID = "11111111-2222-3333-4444-555555555555"

// rsPod is a pod as the ReplicaSet controller would command it.
func rsPod(name string) *corev1.Pod {
	t := true
	return &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &corev1.ObjectMeta{
			Name: name, Namespace: "default", Uid: "uid-" + name, Labels: map[string]string{"app": "web"},
			OwnerReferences: []*corev1.OwnerReference{{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", Uid: rsUID, Controller: &t}},
		},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
			Name: "nginx", Image: "nginx:1.27",
			Resources: &corev1.ResourceRequirements{Requests: map[string]*structpb.Value{"cpu": structpb.NewStringValue("100m")}},
		}}},
	}
}

func (e *env) command(op eventsv1.PodCommand_Op, p *corev1.Pod, grace *int64) {
	e.t.Helper()
	data, err := proto.Marshal(&eventsv1.PodCommand{Op: op, Pod: p, GracePeriodSeconds: grace})
	if err != nil {
		e.t.Fatal(err)
	}
	// A fresh Nats-Msg-Id per publish: a repeated command is a new message.
	id := fmt.Sprintf("%s/%s/%d", op, p.GetMetadata().GetUid(), time.Now().UnixNano())
	if _, err := e.js.Publish(e.ctx(), bus.PodCommandSubject(p.GetMetadata().GetNamespace()), data, jetstream.WithMsgID(id)); err != nil {
		e.t.Fatalf("publish command: %v", err)
	}
}

// waitEvent waits until the latest event of uid satisfies cond.
func (e *env) waitEvent(uid, what string, cond func(*eventsv1.PodEvent) bool) *eventsv1.PodEvent {
	e.t.Helper()
	var ev *eventsv1.PodEvent
	testenv.Eventually(e.t, 20*time.Second, what, func() bool {
		ev = e.podEvts.get(uid)
		return ev != nil && cond(ev)
	})
	return ev
}

func runningReady(ev *eventsv1.PodEvent) bool {
	return ev.GetType() != eventsv1.PodEvent_TYPE_DELETED && ev.GetPod().GetStatus().GetPhase() == "Running" && podutil.IsPodReady(ev.GetPod())
}

func deleted(ev *eventsv1.PodEvent) bool { return ev.GetType() == eventsv1.PodEvent_TYPE_DELETED }
