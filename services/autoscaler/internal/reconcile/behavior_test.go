package reconcile

import (
	"testing"
	"time"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

func TestNormalize(t *testing.T) {
	def := &autoscalerv1.HorizontalPodAutoscalerBehavior{}
	// The documented scale-down example: at most 4 pods or 10% per minute.
	docsDown := func(sel string) *autoscalerv1.HorizontalPodAutoscalerBehavior {
		return &autoscalerv1.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalerv1.HPAScalingRules{
			StabilizationWindowSeconds: ptr(int32(0)), SelectPolicy: sel,
			Policies: []*autoscalerv1.HPAScalingPolicy{{Type: PolicyPods, Value: 4, PeriodSeconds: 60}, {Type: PolicyPercent, Value: 10, PeriodSeconds: 60}},
		}}
	}
	upWindow := &autoscalerv1.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalerv1.HPAScalingRules{StabilizationWindowSeconds: ptr(int32(60))}}
	cases := map[string]struct {
		behavior    *autoscalerv1.HorizontalPodAutoscalerBehavior
		history     History
		min, max    int32
		current     int32
		desired     int32
		want        int32
		wantAble    string // AbleToScale reason
		wantLimited string // ScalingLimited reason
	}{
		"default scale-up: 4 pods per 15 s beats 100%": {behavior: def, min: 1, max: 10, current: 1, desired: 10, want: 5,
			wantAble: "ReadyForNewScale", wantLimited: "ScaleUpLimit"},
		"default scale-up: 100% beats 4 pods from 5": {behavior: def, min: 1, max: 20, current: 5, desired: 20, want: 10,
			wantAble: "ReadyForNewScale", wantLimited: "ScaleUpLimit"},
		"scale-up events within the period use up the budget": {behavior: def, min: 1, max: 10, current: 5, desired: 10, want: 5,
			history:  History{ScaleUpEvents: []ScaleEvent{{Change: 4, Time: t0.Add(-5 * time.Second)}}},
			wantAble: "ReadyForNewScale", wantLimited: "ScaleUpLimit"},
		"scale-up events older than the period are free": {behavior: def, min: 1, max: 10, current: 5, desired: 10, want: 10,
			history:  History{ScaleUpEvents: []ScaleEvent{{Change: 4, Time: t0.Add(-16 * time.Second)}}},
			wantAble: "ReadyForNewScale", wantLimited: "DesiredWithinRange"},
		"clamped to maxReplicas": {behavior: def, min: 1, max: 10, current: 8, desired: 30, want: 10,
			wantAble: "ReadyForNewScale", wantLimited: "TooManyReplicas"},
		"default scale-down window keeps the highest recommendation": {behavior: def, min: 1, max: 10, current: 10, desired: 2, want: 10,
			history:  History{Recommendations: []Recommendation{{Replicas: 10, Time: t0.Add(-100 * time.Second)}}},
			wantAble: "ScaleDownStabilized", wantLimited: "DesiredWithinRange"},
		"scale-down after the window": {behavior: def, min: 1, max: 10, current: 10, desired: 2, want: 2,
			history:  History{Recommendations: []Recommendation{{Replicas: 10, Time: t0.Add(-301 * time.Second)}}},
			wantAble: "ReadyForNewScale", wantLimited: "DesiredWithinRange"},
		"scale-down clamped to minReplicas": {behavior: def, min: 3, max: 10, current: 10, desired: 1, want: 3,
			wantAble: "ReadyForNewScale", wantLimited: "TooFewReplicas"},
		"docs scale-down, Max policy: the larger change (4 pods) wins at 80": {behavior: docsDown(""), min: 1, max: 100, current: 80, desired: 10, want: 72,
			wantAble: "ReadyForNewScale", wantLimited: "ScaleDownLimit"},
		"docs scale-down, Min policy: the smaller change (4 pods) wins at 80": {behavior: docsDown(SelectMin), min: 1, max: 100, current: 80, desired: 10, want: 76,
			wantAble: "ReadyForNewScale", wantLimited: "ScaleDownLimit"},
		"docs scale-down, Max policy at 30: 4 pods beats 10%": {behavior: docsDown(""), min: 1, max: 100, current: 30, desired: 10, want: 26,
			wantAble: "ReadyForNewScale", wantLimited: "ScaleDownLimit"},
		"scale-down disabled": {behavior: docsDown(SelectDisable), min: 1, max: 100, current: 80, desired: 10, want: 80,
			wantAble: "ReadyForNewScale", wantLimited: "ScaleDownLimit"},
		"scale-up window keeps the lowest recommendation": {behavior: upWindow, min: 1, max: 10, current: 3, desired: 8, want: 3,
			history:  History{Recommendations: []Recommendation{{Replicas: 3, Time: t0.Add(-30 * time.Second)}}},
			wantAble: "ScaleUpStabilized", wantLimited: "DesiredWithinRange"},
		"no behavior: legacy limit max(2x, 4)": {min: 1, max: 10, current: 1, desired: 10, want: 4,
			wantAble: "ReadyForNewScale", wantLimited: "ScaleUpLimit"},
		"no behavior: legacy downscale window": {min: 1, max: 10, current: 6, desired: 1, want: 6,
			history:  History{Recommendations: []Recommendation{{Replicas: 6, Time: t0.Add(-time.Minute)}}},
			wantAble: "ScaleDownStabilized", wantLimited: "DesiredWithinRange"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := tc.history.Clone()
			got, conds := Normalize(t0, &h, Normalization{Behavior: tc.behavior, MinReplicas: tc.min, MaxReplicas: tc.max,
				CurrentReplicas: tc.current, DesiredReplicas: tc.desired, DownscaleStabilization: DefaultDownscaleStabilization})
			if got != tc.want {
				t.Fatalf("replicas = %d, want %d (%v)", got, tc.want, conds)
			}
			if conds[0].Reason != tc.wantAble || conds[1].Reason != tc.wantLimited {
				t.Fatalf("conditions %v, want %s and %s", conds, tc.wantAble, tc.wantLimited)
			}
			if n := len(h.Recommendations); n == 0 || h.Recommendations[n-1].Replicas != tc.desired && h.Recommendations[0].Replicas != tc.desired {
				t.Fatalf("recommendation %d not recorded: %v", tc.desired, h.Recommendations)
			}
		})
	}
}

// TestScaleUpSequence replays a climb from 1 to 10 at the default 15 s period with a
// fake clock: 1 -> 5 -> 10, each step waiting for the previous one's period.
func TestScaleUpSequence(t *testing.T) {
	b := &autoscalerv1.HorizontalPodAutoscalerBehavior{}
	var h History
	now, current := t0, int32(1)
	var got []int32
	for i := 0; i < 6; i++ {
		next, _ := Normalize(now, &h, Normalization{Behavior: b, MinReplicas: 1, MaxReplicas: 10, CurrentReplicas: current,
			DesiredReplicas: 10, DownscaleStabilization: DefaultDownscaleStabilization})
		if next != current {
			StoreScaleEvent(now, &h, b, DefaultDownscaleStabilization, current, next)
			current = next
			got = append(got, next)
		}
		now = now.Add(5 * time.Second)
	}
	if len(got) != 2 || got[0] != 5 || got[1] != 10 {
		t.Fatalf("scale steps %v, want [5 10]", got)
	}
}

func TestStoreScaleEventReusesOutdated(t *testing.T) {
	b := &autoscalerv1.HorizontalPodAutoscalerBehavior{}
	h := History{ScaleUpEvents: []ScaleEvent{{Change: 2, Time: t0.Add(-time.Minute)}}}
	StoreScaleEvent(t0, &h, b, DefaultDownscaleStabilization, 3, 5)
	if len(h.ScaleUpEvents) != 1 || h.ScaleUpEvents[0].Change != 2 || !h.ScaleUpEvents[0].Time.Equal(t0) {
		t.Fatalf("events %v, want the outdated slot reused", h.ScaleUpEvents)
	}
	StoreScaleEvent(t0, &h, nil, DefaultDownscaleStabilization, 5, 3)
	if len(h.ScaleDownEvents) != 0 {
		t.Fatal("no behavior: no event stored")
	}
}
