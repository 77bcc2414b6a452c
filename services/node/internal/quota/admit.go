package quota

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// The quota scopes pods are matched against.
const (
	ScopeTerminating    = "Terminating"
	ScopeNotTerminating = "NotTerminating"
	ScopeBestEffort     = "BestEffort"
	ScopeNotBestEffort  = "NotBestEffort"
	ScopePriorityClass  = "PriorityClass"
)

// Scopes lists the scopes Kubernetes knows (spec.scopes and scopeSelector names).
var Scopes = []string{ScopeTerminating, ScopeNotTerminating, ScopeBestEffort, ScopeNotBestEffort, ScopePriorityClass,
	"CrossNamespacePodAffinity", "VolumeAttributesClass"}

// scopeReq is one scope requirement: spec.scopes' entries are Exists.
type scopeReq struct {
	name, op string
	values   []string
}

func scopeReqs(rq *corev1.ResourceQuota) []scopeReq {
	var out []scopeReq
	for _, s := range rq.GetSpec().GetScopes() {
		out = append(out, scopeReq{name: s, op: "Exists"})
	}
	for _, e := range rq.GetSpec().GetScopeSelector().GetMatchExpressions() {
		out = append(out, scopeReq{name: e.GetScopeName(), op: e.GetOperator(), values: e.GetValues()})
	}
	return out
}

// MatchesPod is the pod evaluator's Matches: every scope of the quota holds
// for the pod (Terminating: it has activeDeadlineSeconds; BestEffort: its QoS
// class; PriorityClass: its priorityClassName, by operator). A scope about
// something else (CrossNamespacePodAffinity, VolumeAttributesClass) does not
// hold; qos is the pod's QoS class.
func MatchesPod(rq *corev1.ResourceQuota, p *corev1.Pod, qos string) bool {
	for _, s := range scopeReqs(rq) {
		var ok bool
		switch s.name {
		case ScopeTerminating:
			ok = p.GetSpec().ActiveDeadlineSeconds != nil
		case ScopeNotTerminating:
			ok = p.GetSpec().ActiveDeadlineSeconds == nil
		case ScopeBestEffort:
			ok = qos == "BestEffort"
		case ScopeNotBestEffort:
			ok = qos != "BestEffort"
		case ScopePriorityClass:
			pc := p.GetSpec().GetPriorityClassName()
			switch s.op {
			case "Exists":
				ok = pc != ""
			case "DoesNotExist":
				ok = pc == ""
			case "In":
				ok = slices.Contains(s.values, pc)
			case "NotIn":
				ok = !slices.Contains(s.values, pc)
			}
		}
		if s.op == "DoesNotExist" && s.name != ScopePriorityClass {
			ok = !ok
		}
		if !ok {
			return false
		}
	}
	return true
}

// Quota is one ResourceQuota as admission sees it: its hard limits and what
// the namespace uses now in the resources it limits.
type Quota struct {
	Object *corev1.ResourceQuota
	Hard   List
	Used   List
}

// NewQuota reads a ResourceQuota's spec.hard; Used starts at zero for every
// resource pods are charged in.
func NewQuota(rq *corev1.ResourceQuota) *Quota {
	q := &Quota{Object: rq, Hard: FromProto(rq.GetSpec().GetHard()), Used: List{}}
	for _, n := range append(PodResourceNames(Names(q.Hard)), serviceResourceNames(Names(q.Hard))...) {
		q.Used[n] = resource.Quantity{Format: resource.DecimalSI}
	}
	return q
}

// ChargePod adds a stored pod's usage to the quotas that match it.
func ChargePod(quotas []*Quota, p *corev1.Pod, qos string, now time.Time) {
	usage := PodUsage(p, now)
	for _, q := range quotas {
		if MatchesPod(q.Object, p, qos) {
			q.Used = Add(q.Used, Mask(usage, PodResourceNames(Names(q.Hard))))
		}
	}
}

// Status is what the quota controller writes: hard as the spec says, used for
// every hard resource it counts (zero when nothing uses it); counted tells which.
func (q *Quota) Status(counted func(string) bool) (hard, used List) {
	used = List{}
	for _, n := range Names(q.Hard) {
		if !counted(n) {
			continue
		}
		if u, ok := q.Used[n]; ok {
			used[n] = u.DeepCopy()
		} else {
			used[n] = resource.Quantity{Format: resource.DecimalSI}
		}
	}
	return q.Hard, used
}

// AdmitPod is the quota admission plugin's CheckRequest for a new pod against
// the namespace's quotas (sorted by name): a quota that limits compute resources
// wants them stated ("failed quota: NAME: must specify ..."); the pod's usage
// must fit under every matching quota's hard limits ("exceeded quota: NAME,
// requested: ..., used: ..., limited: ...", naming only what it exceeds). When
// it fits, its usage is charged to the quotas (their Used) and nil returned;
// otherwise nothing changes.
func AdmitPod(quotas []*Quota, p *corev1.Pod, qos string, now time.Time) error {
	var matched []*Quota
	for _, q := range quotas {
		if !MatchesPod(q.Object, p, qos) {
			continue
		}
		restricted := PodResourceNames(Names(q.Hard))
		if len(restricted) == 0 {
			continue
		}
		if err := PodConstraints(restricted, p); err != nil {
			return fmt.Errorf("failed quota: %s: %w", q.Object.GetMetadata().GetName(), err)
		}
		matched = append(matched, q)
	}
	return charge(matched, RemoveZeros(PodUsage(p, now)))
}
