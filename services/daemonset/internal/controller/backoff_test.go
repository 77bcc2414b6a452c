package controller

import (
	"testing"
	"time"
)

func TestFailedBackoff(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newFailedBackoff()
	steps := []struct {
		name     string
		at       time.Duration
		fail     bool
		wantLeft time.Duration
	}{
		{name: "nothing yet", at: 0, wantLeft: 0},
		{name: "first failure", at: 0, fail: true, wantLeft: time.Second},
		{name: "half a second later", at: 500 * time.Millisecond, wantLeft: 500 * time.Millisecond},
		{name: "second failure doubles", at: 2 * time.Second, fail: true, wantLeft: 2 * time.Second},
		{name: "expired", at: 5 * time.Second, wantLeft: 0},
		{name: "idle for long: reset", at: time.Hour, fail: true, wantLeft: time.Second},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		if s.fail {
			b.next("k", now)
		}
		if got := b.remaining("k", now); got != s.wantLeft {
			t.Fatalf("%s: remaining %v, want %v", s.name, got, s.wantLeft)
		}
	}
	b.gc(t0.Add(3 * time.Hour))
	if len(b.entries) != 0 {
		t.Fatalf("gc kept %v", b.entries)
	}
}
