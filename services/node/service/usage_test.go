package service

import (
	"testing"
	"time"
)

func TestCPURate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int, cpu time.Duration) cpuSample {
		return cpuSample{at: t0.Add(time.Duration(s) * time.Second), nanos: uint64(cpu)}
	}
	tests := map[string]struct {
		samples []cpuSample
		want    int64
		ok      bool
	}{
		"no sample":                              {},
		"one sample: no rate yet":                {samples: []cpuSample{at(0, time.Second)}},
		"half a core":                            {samples: []cpuSample{at(0, 0), at(10, 5*time.Second)}, want: 500, ok: true},
		"first to last":                          {samples: []cpuSample{at(0, 0), at(5, time.Second), at(10, 2*time.Second)}, want: 200, ok: true},
		"samples under a second apart":           {samples: []cpuSample{at(0, 0), at(0, time.Second)}},
		"a counter that went back (a new group)": {samples: []cpuSample{at(0, 5*time.Second), at(10, time.Second)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := cpuRate(tc.samples)
			if got != tc.want || ok != tc.ok {
				t.Errorf("cpuRate = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestTrimSamples(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ss := []cpuSample{{at: t0}, {at: t0.Add(10 * time.Second)}, {at: t0.Add(20 * time.Second)}, {at: t0.Add(40 * time.Second)}}
	got := trimSamples(ss, t0.Add(15*time.Second))
	if len(got) != 3 || !got[0].at.Equal(t0.Add(10*time.Second)) {
		t.Errorf("trimmed to %v, want the newest sample before the window and the rest", got)
	}
	if got := trimSamples(ss[:1], t0.Add(time.Hour)); len(got) != 1 {
		t.Errorf("a single old sample must stay: %v", got)
	}
}
