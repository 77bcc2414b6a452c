// Package bus is the JetStream layer every service shares: the streams and subjects
// of the pod lifecycle, publishing with Nats-Msg-Id deduplication, and durable
// explicit-ack consumers with bounded redelivery that hand messages to a handler in
// batches. A message is a pointer; the store is the truth.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Streams and subjects.
const (
	// StreamPodCommands carries eventsv1.PodCommand on pods.cmd.<namespace>.
	StreamPodCommands = "POD_COMMANDS"
	// StreamPodEvents carries eventsv1.PodEvent on pods.events.<ownerKind>.
	StreamPodEvents = "POD_EVENTS"
	// StreamNodeEvents carries eventsv1.NodeEvent on nodes.events.<node>.
	StreamNodeEvents = "NODE_EVENTS"
)

// PodCommandSubject is the subject of commands about pods of a namespace.
func PodCommandSubject(namespace string) string { return "pods.cmd." + namespace }

// PodEventSubject is the subject of events about pods owned by ownerKind ("" = bare pods).
func PodEventSubject(ownerKind string) string {
	if ownerKind == "" {
		ownerKind = "none"
	}
	return "pods.events." + ownerKind
}

// NodeEventSubject is the subject of events about a node.
func NodeEventSubject(node string) string { return "nodes.events." + node }

// Bus is a NATS connection with its JetStream context.
type Bus struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	log *slog.Logger
	// Replicas of each stream (1 locally, 3 on a NATS cluster).
	Replicas int

	// consumers holds the durable consumers this Bus runs (consumerKey), for Collector.
	consumers sync.Map
	metrics   busMetrics
}

// Connect dials url (a comma-separated list is fine) and returns a Bus.
func Connect(url, name string, log *slog.Logger, opts ...nats.Option) (*Bus, error) {
	opts = append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", url, err)
	}
	return New(nc, log)
}

// New wraps an existing connection (e.g. to an in-process server).
func New(nc *nats.Conn, log *slog.Logger) (*Bus, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Bus{NC: nc, JS: js, log: log, Replicas: 1, metrics: newBusMetrics()}, nil
}

// Close drains the connection.
func (b *Bus) Close() { b.NC.Close() }

// EnsureStreams declares the project's streams; it is idempotent, every service calls it at start.
func (b *Bus) EnsureStreams(ctx context.Context) error {
	for _, cfg := range []jetstream.StreamConfig{
		{Name: StreamPodCommands, Subjects: []string{"pods.cmd.>"}, MaxAge: 24 * time.Hour},
		{Name: StreamPodEvents, Subjects: []string{"pods.events.>"}, MaxAge: 24 * time.Hour},
		{Name: StreamNodeEvents, Subjects: []string{"nodes.events.>"}, MaxAge: 24 * time.Hour},
	} {
		cfg.Storage = jetstream.FileStorage
		cfg.Retention = jetstream.LimitsPolicy
		cfg.Duplicates = 2 * time.Minute
		cfg.Replicas = max(b.Replicas, 1)
		if _, err := b.JS.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("declare stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// Message is one message to publish.
type Message struct {
	Subject string
	// MsgID is the Nats-Msg-Id: a business id such as "<kind>/<uid>/<version>".
	MsgID string
	Data  []byte
}

// Publish publishes one message and waits for the stream's ack.
func (b *Bus) Publish(ctx context.Context, m Message) error {
	_, err := b.JS.Publish(ctx, m.Subject, m.Data, jetstream.WithMsgID(m.MsgID))
	if err != nil {
		return fmt.Errorf("publish %s: %w", m.Subject, err)
	}
	return nil
}

// PublishBatch publishes messages asynchronously and waits until every one is acked.
func (b *Bus) PublishBatch(ctx context.Context, msgs []Message) error {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		nm := nats.NewMsg(m.Subject)
		nm.Data = m.Data
		if m.MsgID != "" {
			nm.Header.Set(jetstream.MsgIDHeader, m.MsgID)
		}
		f, err := b.JS.PublishMsgAsync(nm)
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		futures = append(futures, f)
	}
	var errs []error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("publish batch: %d of %d failed: %w", len(errs), len(msgs), errors.Join(errs...))
	}
	return nil
}

// Received is a consumed message.
type Received struct {
	Subject      string
	Data         []byte
	NumDelivered uint64
	msg          jetstream.Msg
}

// Handler handles a batch; it must be idempotent (a batch can be delivered again).
type Handler func(ctx context.Context, msgs []Received) error

// ConsumerConfig describes a durable consumer.
type ConsumerConfig struct {
	Stream  string
	Durable string
	Filters []string
	// MaxBatch bounds a batch (default 256).
	MaxBatch int
	// MaxDeliver bounds redelivery (default 20).
	MaxDeliver int
}

var redeliveryBackoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}

// ConsumeUntilDone runs Consume until ctx ends, declaring the consumer again a
// second after each failure (a NATS restart, a stream not yet there) and logging it.
func (b *Bus) ConsumeUntilDone(ctx context.Context, log *slog.Logger, cfg ConsumerConfig, h Handler) {
	for ctx.Err() == nil {
		err := b.Consume(ctx, cfg, h)
		if err == nil || ctx.Err() != nil {
			return
		}
		log.Warn("consumer stopped; restarting", "consumer", cfg.Durable, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Consume runs a durable explicit-ack consumer until ctx ends. Messages are handed
// to h in batches of what has arrived (no waiting to fill a batch). A batch is acked
// after h returns nil; when h fails, its messages are retried one by one so a poison
// message is nak'ed (redelivered with back-off, at most MaxDeliver times) alone.
func (b *Bus) Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = 20
	}
	ccfg := jetstream.ConsumerConfig{
		Durable:   cfg.Durable,
		AckPolicy: jetstream.AckExplicitPolicy,
		// A consumer killed with messages in its buffer gets them back after AckWait:
		// short, since a batch takes milliseconds (and handlers are idempotent if a slow
		// one is redelivered).
		AckWait:       5 * time.Second,
		MaxDeliver:    cfg.MaxDeliver,
		MaxAckPending: 4 * cfg.MaxBatch,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(cfg.Filters) == 1 {
		ccfg.FilterSubject = cfg.Filters[0]
	} else {
		ccfg.FilterSubjects = cfg.Filters
	}
	cons, err := b.JS.CreateOrUpdateConsumer(ctx, cfg.Stream, ccfg)
	if err != nil {
		return fmt.Errorf("declare consumer %s on %s: %w", cfg.Durable, cfg.Stream, err)
	}
	b.consumers.Store(consumerKey{stream: cfg.Stream, durable: cfg.Durable}, struct{}{})
	ch := make(chan jetstream.Msg, cfg.MaxBatch)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case ch <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(cfg.MaxBatch))
	if err != nil {
		return fmt.Errorf("consume %s: %w", cfg.Durable, err)
	}
	defer cc.Stop()
	log := b.log.With("consumer", cfg.Durable)
	for {
		var first jetstream.Msg
		select {
		case <-ctx.Done():
			return nil
		case first = <-ch:
		}
		batch := []jetstream.Msg{first}
	drain:
		for len(batch) < cfg.MaxBatch {
			select {
			case m := <-ch:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		b.handle(ctx, log, consumerKey{stream: cfg.Stream, durable: cfg.Durable}, h, batch)
	}
}

func toReceived(m jetstream.Msg) Received {
	r := Received{Subject: m.Subject(), Data: m.Data(), msg: m}
	if md, err := m.Metadata(); err == nil {
		r.NumDelivered = md.NumDelivered
	}
	return r
}

func (b *Bus) handle(ctx context.Context, log *slog.Logger, consumer consumerKey, h Handler, batch []jetstream.Msg) {
	recv := make([]Received, len(batch))
	for i, m := range batch {
		recv[i] = toReceived(m)
		if recv[i].NumDelivered > 1 {
			b.metrics.redelivered.WithLabelValues(consumer.stream, consumer.durable).Inc()
		}
	}
	nak := func(r Received, err error) {
		b.metrics.naks.WithLabelValues(consumer.stream, consumer.durable).Inc()
		nak(log, r, err)
	}
	if err := h(ctx, recv); err == nil {
		for _, m := range batch {
			_ = m.Ack()
		}
		return
	} else if len(batch) == 1 {
		nak(recv[0], err)
		return
	}
	for _, r := range recv {
		if err := h(ctx, []Received{r}); err != nil {
			nak(r, err)
			continue
		}
		_ = r.msg.Ack()
	}
}

func nak(log *slog.Logger, r Received, err error) {
	n := int(r.NumDelivered)
	d := redeliveryBackoff[min(max(n-1, 0), len(redeliveryBackoff)-1)]
	log.Warn("message handling failed; will retry", "subject", r.Subject, "delivered", n, "retry_in", d, "err", err)
	_ = r.msg.NakWithDelay(d)
}

// IsNoResponders reports a NATS outage-like error (for callers that want to wait and retry).
func IsNoResponders(err error) bool {
	return err != nil && (errors.Is(err, nats.ErrNoResponders) || strings.Contains(err.Error(), "no responders"))
}
