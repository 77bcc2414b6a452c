package reconcile

import (
	"math"
	"time"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
)

// Scaling policy types and select policies (autoscaling/v2).
const (
	PolicyPods    = "Pods"
	PolicyPercent = "Percent"
	SelectMax     = "Max"
	SelectMin     = "Min"
	SelectDisable = "Disabled"
)

// DefaultDownscaleStabilization is --horizontal-pod-autoscaler-downscale-stabilization.
const DefaultDownscaleStabilization = 5 * time.Minute

// Recommendation is one unstabilized recommendation of a sync.
type Recommendation struct {
	Replicas int32     `json:"replicas"`
	Time     time.Time `json:"time"`
}

// ScaleEvent is one replica change made by the autoscaler.
type ScaleEvent struct {
	Change   int32     `json:"change"`
	Time     time.Time `json:"time"`
	Outdated bool      `json:"outdated,omitempty"`
}

// History is what Kubernetes keeps in memory per autoscaler (recommendations and
// scale events); podwarden stores it with the status so a restart does not flap.
type History struct {
	Recommendations []Recommendation `json:"recommendations,omitempty"`
	ScaleUpEvents   []ScaleEvent     `json:"scaleUpEvents,omitempty"`
	ScaleDownEvents []ScaleEvent     `json:"scaleDownEvents,omitempty"`
}

// Clone returns a deep copy.
func (h History) Clone() History {
	return History{
		Recommendations: append([]Recommendation(nil), h.Recommendations...),
		ScaleUpEvents:   append([]ScaleEvent(nil), h.ScaleUpEvents...),
		ScaleDownEvents: append([]ScaleEvent(nil), h.ScaleDownEvents...),
	}
}

// Cond is a condition decided by the engine (type, status "True"/"False", reason, message).
type Cond struct {
	Type, Status, Reason, Message string
}

// Condition types of a HorizontalPodAutoscaler.
const (
	AbleToScale    = "AbleToScale"
	ScalingActive  = "ScalingActive"
	ScalingLimited = "ScalingLimited"
)

// Normalization is the input of the normalization step.
type Normalization struct {
	// Behavior nil selects the legacy path (no behavior in the spec).
	Behavior        *autoscalerv1.HorizontalPodAutoscalerBehavior
	MinReplicas     int32
	MaxReplicas     int32
	CurrentReplicas int32
	DesiredReplicas int32
	// DownscaleStabilization is the controller's window (used when the behavior leaves it unset).
	DownscaleStabilization time.Duration
}

// Normalize is normalizeDesiredReplicas / normalizeDesiredReplicasWithBehaviors: it
// stabilizes the recommendation over the windows, applies the rate limits and clamps
// to [min, max], recording the recommendation in h. It returns the replica count and
// the AbleToScale and ScalingLimited conditions.
func Normalize(now time.Time, h *History, n Normalization) (int32, []Cond) {
	if n.Behavior == nil {
		return normalizeLegacy(now, h, n)
	}
	up, down := EffectiveRules(n.Behavior, n.DownscaleStabilization)
	stabilized, reason, message := stabilizeWithBehaviors(now, h, n, up, down)
	var conds []Cond
	if stabilized != n.DesiredReplicas {
		conds = append(conds, Cond{AbleToScale, "True", reason, message})
	} else {
		conds = append(conds, Cond{AbleToScale, "True", "ReadyForNewScale", "recommended size matches current size"})
	}
	n.DesiredReplicas = stabilized
	desired, reason, message := convertWithBehaviorRate(now, h, n, up, down)
	if desired == stabilized {
		conds = append(conds, Cond{ScalingLimited, "False", reason, message})
	} else {
		conds = append(conds, Cond{ScalingLimited, "True", reason, message})
	}
	return desired, conds
}

// EffectiveRules returns the scale-up and scale-down rules with every unset field
// defaulted (the scale-down window falls back to the controller's window).
func EffectiveRules(b *autoscalerv1.HorizontalPodAutoscalerBehavior, downscaleWindow time.Duration) (up, down *autoscalerv1.HPAScalingRules) {
	up = DefaultScaleUpRules(b.GetScaleUp())
	down = DefaultScaleDownRules(b.GetScaleDown())
	if down.StabilizationWindowSeconds == nil {
		down.StabilizationWindowSeconds = ptr(int32(downscaleWindow / time.Second))
	}
	return up, down
}

// DefaultScaleUpRules is GenerateHPAScaleUpRules: no stabilization, 4 Pods or 100%
// per 15 s, Max.
func DefaultScaleUpRules(r *autoscalerv1.HPAScalingRules) *autoscalerv1.HPAScalingRules {
	out := &autoscalerv1.HPAScalingRules{StabilizationWindowSeconds: ptr(int32(0)), SelectPolicy: SelectMax,
		Policies: []*autoscalerv1.HPAScalingPolicy{
			{Type: PolicyPods, Value: 4, PeriodSeconds: 15},
			{Type: PolicyPercent, Value: 100, PeriodSeconds: 15},
		}}
	return overlay(out, r)
}

// DefaultScaleDownRules is GenerateHPAScaleDownRules: 100% per 15 s, Max; the
// window stays unset (the controller's --horizontal-pod-autoscaler-downscale-stabilization,
// 300 s by default, applies).
func DefaultScaleDownRules(r *autoscalerv1.HPAScalingRules) *autoscalerv1.HPAScalingRules {
	out := &autoscalerv1.HPAScalingRules{SelectPolicy: SelectMax,
		Policies: []*autoscalerv1.HPAScalingPolicy{{Type: PolicyPercent, Value: 100, PeriodSeconds: 15}}}
	return overlay(out, r)
}

func overlay(def, r *autoscalerv1.HPAScalingRules) *autoscalerv1.HPAScalingRules {
	if r == nil {
		return def
	}
	if r.StabilizationWindowSeconds != nil {
		def.StabilizationWindowSeconds = ptr(*r.StabilizationWindowSeconds)
	}
	if r.SelectPolicy != "" {
		def.SelectPolicy = r.SelectPolicy
	}
	if len(r.Policies) > 0 {
		def.Policies = r.Policies
	}
	return def
}

func ptr[T any](v T) *T { return &v }

func stabilizeWithBehaviors(now time.Time, h *History, n Normalization, up, down *autoscalerv1.HPAScalingRules) (int32, string, string) {
	upRec, downRec := n.DesiredReplicas, n.DesiredReplicas
	upCutoff := now.Add(-time.Duration(up.GetStabilizationWindowSeconds()) * time.Second)
	downCutoff := now.Add(-time.Duration(down.GetStabilizationWindowSeconds()) * time.Second)
	foundOld, oldIdx := false, 0
	for i, rec := range h.Recommendations {
		if rec.Time.After(upCutoff) {
			upRec = min(rec.Replicas, upRec)
		}
		if rec.Time.After(downCutoff) {
			downRec = max(rec.Replicas, downRec)
		}
		if rec.Time.Before(upCutoff) && rec.Time.Before(downCutoff) {
			foundOld, oldIdx = true, i
		}
	}
	rec := n.CurrentReplicas
	if rec < upRec {
		rec = upRec
	}
	if rec > downRec {
		rec = downRec
	}
	sample := Recommendation{Replicas: n.DesiredReplicas, Time: now}
	if foundOld {
		h.Recommendations[oldIdx] = sample
	} else {
		h.Recommendations = append(h.Recommendations, sample)
	}
	if n.DesiredReplicas >= n.CurrentReplicas {
		return rec, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"
	}
	return rec, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
}

func convertWithBehaviorRate(now time.Time, h *History, n Normalization, up, down *autoscalerv1.HPAScalingRules) (int32, string, string) {
	switch {
	case n.DesiredReplicas > n.CurrentReplicas:
		limit := ScaleUpLimit(now, n.CurrentReplicas, h.ScaleUpEvents, h.ScaleDownEvents, up)
		if limit < n.CurrentReplicas {
			limit = n.CurrentReplicas
		}
		allowed, reason, message := n.MaxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
		if allowed > limit {
			allowed, reason, message = limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
		}
		if n.DesiredReplicas > allowed {
			return allowed, reason, message
		}
	case n.DesiredReplicas < n.CurrentReplicas:
		limit := ScaleDownLimit(now, n.CurrentReplicas, h.ScaleUpEvents, h.ScaleDownEvents, down)
		if limit > n.CurrentReplicas {
			limit = n.CurrentReplicas
		}
		allowed, reason, message := n.MinReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
		if allowed < limit {
			allowed, reason, message = limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
		}
		if n.DesiredReplicas < allowed {
			return allowed, reason, message
		}
	}
	return n.DesiredReplicas, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// ScaleUpLimit is calculateScaleUpLimitWithScalingRules.
func ScaleUpLimit(now time.Time, current int32, upEvents, downEvents []ScaleEvent, rules *autoscalerv1.HPAScalingRules) int32 {
	var result int32
	pick := func(a, b int32) int32 { return max(a, b) }
	switch rules.GetSelectPolicy() {
	case SelectDisable:
		return current
	case SelectMin:
		result, pick = math.MaxInt32, func(a, b int32) int32 { return min(a, b) }
	default:
		result = math.MinInt32
	}
	for _, p := range rules.GetPolicies() {
		start := current - changeInPeriod(now, p.GetPeriodSeconds(), upEvents) + changeInPeriod(now, p.GetPeriodSeconds(), downEvents)
		var proposed int32
		switch p.GetType() {
		case PolicyPods:
			proposed = start + p.GetValue()
		case PolicyPercent:
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.GetValue())/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// ScaleDownLimit is calculateScaleDownLimitWithBehaviors.
func ScaleDownLimit(now time.Time, current int32, upEvents, downEvents []ScaleEvent, rules *autoscalerv1.HPAScalingRules) int32 {
	var result int32
	pick := func(a, b int32) int32 { return min(a, b) }
	switch rules.GetSelectPolicy() {
	case SelectDisable:
		return current
	case SelectMin:
		result, pick = math.MinInt32, func(a, b int32) int32 { return max(a, b) }
	default:
		result = math.MaxInt32
	}
	for _, p := range rules.GetPolicies() {
		start := current - changeInPeriod(now, p.GetPeriodSeconds(), upEvents) + changeInPeriod(now, p.GetPeriodSeconds(), downEvents)
		var proposed int32
		switch p.GetType() {
		case PolicyPods:
			proposed = start - p.GetValue()
		case PolicyPercent:
			proposed = int32(float64(start) * (1 - float64(p.GetValue())/100))
		}
		result = pick(result, proposed)
	}
	return result
}

func changeInPeriod(now time.Time, periodSeconds int32, events []ScaleEvent) int32 {
	cutoff := now.Add(-time.Duration(periodSeconds) * time.Second)
	var n int32
	for _, e := range events {
		if e.Time.After(cutoff) {
			n += e.Change
		}
	}
	return n
}

// StoreScaleEvent is storeScaleEvent: it records a replica change made under a
// behavior (no-op without one), reusing an outdated slot.
func StoreScaleEvent(now time.Time, h *History, b *autoscalerv1.HorizontalPodAutoscalerBehavior, downscaleWindow time.Duration, prev, next int32) {
	if b == nil {
		return
	}
	up, down := EffectiveRules(b, downscaleWindow)
	if next > prev {
		h.ScaleUpEvents = storeEvent(now, h.ScaleUpEvents, longestPeriod(up), next-prev)
	} else {
		h.ScaleDownEvents = storeEvent(now, h.ScaleDownEvents, longestPeriod(down), prev-next)
	}
}

func storeEvent(now time.Time, events []ScaleEvent, longest int32, change int32) []ScaleEvent {
	cutoff := now.Add(-time.Duration(longest) * time.Second)
	for i := range events {
		if events[i].Time.Before(cutoff) {
			events[i].Outdated = true
		}
	}
	e := ScaleEvent{Change: change, Time: now}
	for i := range events {
		if events[i].Outdated {
			events[i] = e
			return events
		}
	}
	return append(events, e)
}

func longestPeriod(r *autoscalerv1.HPAScalingRules) int32 {
	var longest int32
	for _, p := range r.GetPolicies() {
		longest = max(longest, p.GetPeriodSeconds())
	}
	return longest
}

// normalizeLegacy is normalizeDesiredReplicas (no behavior): the highest
// recommendation over the downscale window, then scale-up limit max(2x, 4).
func normalizeLegacy(now time.Time, h *History, n Normalization) (int32, []Cond) {
	maxRec := n.DesiredReplicas
	cutoff := now.Add(-n.DownscaleStabilization)
	foundOld, oldIdx := false, 0
	for i, rec := range h.Recommendations {
		if rec.Time.Before(cutoff) {
			foundOld, oldIdx = true, i
		} else if rec.Replicas > maxRec {
			maxRec = rec.Replicas
		}
	}
	sample := Recommendation{Replicas: n.DesiredReplicas, Time: now}
	if foundOld {
		h.Recommendations[oldIdx] = sample
	} else {
		h.Recommendations = append(h.Recommendations, sample)
	}
	var conds []Cond
	if maxRec != n.DesiredReplicas {
		conds = append(conds, Cond{AbleToScale, "True", "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"})
	} else {
		conds = append(conds, Cond{AbleToScale, "True", "ReadyForNewScale", "recommended size matches current size"})
	}
	desired, reason, message := convertWithRules(n.CurrentReplicas, maxRec, n.MinReplicas, n.MaxReplicas)
	status := "True"
	if desired == maxRec {
		status = "False"
	}
	return desired, append(conds, Cond{ScalingLimited, status, reason, message})
}

// Legacy scale-up limit: max(scaleUpLimitFactor x current, scaleUpLimitMinimum).
const (
	scaleUpLimitFactor  = 2.0
	scaleUpLimitMinimum = 4.0
)

func convertWithRules(current, desired, minR, maxR int32) (int32, string, string) {
	limit := int32(math.Max(scaleUpLimitFactor*float64(current), scaleUpLimitMinimum))
	allowed, cond, reason := maxR, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
	if maxR > limit {
		allowed, cond, reason = limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
	}
	if desired < minR {
		return minR, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	}
	if desired > allowed {
		return allowed, cond, reason
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}
