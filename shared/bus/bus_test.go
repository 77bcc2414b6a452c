package bus_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/podwarden/podwarden/shared/bus"
	"github.com/podwarden/podwarden/shared/testenv"
)

func newBus(t *testing.T) *bus.Bus {
	n := testenv.NATS(t)
	b, err := bus.Connect(n.URL, "test", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := b.EnsureStreams(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Declaring twice is fine.
	if err := b.EnsureStreams(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPublishIsDeduplicatedByMsgID(t *testing.T) {
	ctx := context.Background()
	b := newBus(t)
	msgs := []bus.Message{
		{Subject: bus.PodCommandSubject("default"), MsgID: "Pod/u1/1", Data: []byte("one")},
		{Subject: bus.PodCommandSubject("default"), MsgID: "Pod/u1/1", Data: []byte("one again")},
		{Subject: bus.PodCommandSubject("default"), MsgID: "Pod/u2/1", Data: []byte("two")},
	}
	if err := b.PublishBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, msgs[2]); err != nil {
		t.Fatal(err)
	}
	s, err := b.JS.Stream(ctx, bus.StreamPodCommands)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2 (duplicates dropped)", info.State.Msgs)
	}
}

func TestConsumeRetriesFailuresAndAcksSuccesses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := newBus(t)
	var mu sync.Mutex
	handled := map[string]int{}
	failOnce := map[string]bool{"poison": true}
	go func() {
		_ = b.Consume(ctx, bus.ConsumerConfig{Stream: bus.StreamPodEvents, Durable: "t", Filters: []string{"pods.events.ReplicaSet"}},
			func(ctx context.Context, msgs []bus.Received) error {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range msgs {
					if failOnce[string(m.Data)] {
						failOnce[string(m.Data)] = false
						return errors.New("transient")
					}
				}
				for _, m := range msgs {
					handled[string(m.Data)]++
				}
				return nil
			})
	}()
	for _, d := range []string{"a", "poison", "b"} {
		if err := b.Publish(ctx, bus.Message{Subject: bus.PodEventSubject("ReplicaSet"), MsgID: d, Data: []byte(d)}); err != nil {
			t.Fatal(err)
		}
	}
	// Not matching the filter: never delivered to this consumer.
	if err := b.Publish(ctx, bus.Message{Subject: bus.PodEventSubject("Job"), MsgID: "job", Data: []byte("job")}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "all handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled["a"] >= 1 && handled["b"] >= 1 && handled["poison"] == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if handled["job"] != 0 {
		t.Fatal("filtered subject delivered")
	}
}
