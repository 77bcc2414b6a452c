package bus

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podwarden/podwarden/shared/store"
)

// consumerKey names a durable consumer (one name may serve several streams).
type consumerKey struct{ stream, durable string }

// busMetrics are what the Bus counts as it hands messages over.
type busMetrics struct {
	redelivered *prometheus.CounterVec
	naks        *prometheus.CounterVec
}

func newBusMetrics() busMetrics {
	return busMetrics{
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwarden_bus_redelivered_messages_total",
			Help: "Messages a durable consumer received again (JetStream delivered them more than once).",
		}, consumerLabels),
		naks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podwarden_bus_naks_total",
			Help: "Messages whose handling failed and were nak'ed for redelivery with back-off.",
		}, consumerLabels),
	}
}

// consumerStatTimeout bounds the consumer-info requests of one scrape.
const consumerStatTimeout = 2 * time.Second

var (
	consumerLabels     = []string{"stream", "consumer"}
	consumerNumPending = prometheus.NewDesc("jetstream_consumer_num_pending",
		"Messages of the stream matching the consumer's filter not yet delivered to it (its lag).", consumerLabels, nil)
	consumerNumAckPending = prometheus.NewDesc("jetstream_consumer_num_ack_pending",
		"Messages delivered to the consumer and not yet acknowledged.", consumerLabels, nil)
	consumerNumRedelivered = prometheus.NewDesc("jetstream_consumer_num_redelivered",
		"Messages delivered more than once and not yet acknowledged.", consumerLabels, nil)
)

// Collector exports, at each scrape, JetStream's view of every durable consumer
// this Bus has run (lag, unacknowledged and redelivered messages, under
// prometheus-nats-exporter's jetstream_consumer_ names) and the Bus's own counts
// of redeliveries and naks.
func (b *Bus) Collector() prometheus.Collector { return busCollector{b} }

type busCollector struct{ b *Bus }

func (c busCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- consumerNumPending
	ch <- consumerNumAckPending
	ch <- consumerNumRedelivered
	c.b.metrics.redelivered.Describe(ch)
	c.b.metrics.naks.Describe(ch)
}

func (c busCollector) Collect(ch chan<- prometheus.Metric) {
	c.b.metrics.redelivered.Collect(ch)
	c.b.metrics.naks.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), consumerStatTimeout)
	defer cancel()
	c.b.consumers.Range(func(k, _ any) bool {
		stream, durable := k.(consumerKey).stream, k.(consumerKey).durable
		cons, err := c.b.JS.Consumer(ctx, stream, durable)
		if err != nil {
			c.b.log.Debug("consumer info for metrics failed", "consumer", durable, "err", err)
			return ctx.Err() == nil
		}
		info := cons.CachedInfo()
		ch <- prometheus.MustNewConstMetric(consumerNumPending, prometheus.GaugeValue, float64(info.NumPending), stream, durable)
		ch <- prometheus.MustNewConstMetric(consumerNumAckPending, prometheus.GaugeValue, float64(info.NumAckPending), stream, durable)
		ch <- prometheus.MustNewConstMetric(consumerNumRedelivered, prometheus.GaugeValue, float64(info.NumRedelivered), stream, durable)
		return true
	})
}

func newPublishedCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{
		Name: "podwarden_outbox_published_total",
		Help: "Outbox messages the relay published to JetStream and removed from the outbox.",
	})
}

var outboxPending = prometheus.NewDesc("podwarden_outbox_pending_messages",
	"Messages in the transactional outbox not yet published (the relay's backlog).", nil, nil)

// Collector exports the outbox backlog (counted at each scrape) and what the relay published.
func (r *Relay) Collector() prometheus.Collector { return relayCollector{r} }

type relayCollector struct{ r *Relay }

func (c relayCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPending
	c.r.published.Describe(ch)
}

func (c relayCollector) Collect(ch chan<- prometheus.Metric) {
	c.r.published.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), consumerStatTimeout)
	defer cancel()
	n, err := store.OutboxLen(ctx, c.r.DB.Pool)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxPending, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxPending, prometheus.GaugeValue, float64(n))
}
