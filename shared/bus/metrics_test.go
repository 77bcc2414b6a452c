package bus_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/metrics"
	"github.com/podwarden/podwarden/shared/testenv"
)

// The consumer's lag shows while its handler is held, and a message that fails
// once is counted as nak'ed and redelivered.
func TestCollectorShowsLagAndRedeliveries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := newBus(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collector())
	value := func(name string) float64 {
		t.Helper()
		v, err := metrics.Value(reg, name, "consumer", "lagging")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	release := make(chan struct{})
	var once sync.Once
	go func() {
		_ = b.Consume(ctx, bus.ConsumerConfig{Stream: bus.StreamPodEvents, Durable: "lagging", Filters: []string{"pods.events.Job"}},
			func(ctx context.Context, msgs []bus.Received) error {
				once.Do(func() { <-release })
				for _, m := range msgs {
					if string(m.Data) == "poison" && m.NumDelivered == 1 {
						return errors.New("transient") // nak'ed, then handled on its redelivery
					}
				}
				return nil
			})
	}()
	for _, d := range []string{"poison", "b", "c"} {
		if err := b.Publish(ctx, bus.Message{Subject: bus.PodEventSubject("Job"), MsgID: d, Data: []byte(d)}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 10*time.Second, "three messages waiting", func() bool {
		return value("jetstream_consumer_num_pending")+value("jetstream_consumer_num_ack_pending") == 3
	})
	close(release)
	testenv.Eventually(t, 10*time.Second, "all acked, one redelivery", func() bool {
		return value("jetstream_consumer_num_pending") == 0 && value("jetstream_consumer_num_ack_pending") == 0 &&
			value("podwarden_bus_naks_total") == 1 && value("podwarden_bus_redelivered_messages_total") == 1
	})
}
