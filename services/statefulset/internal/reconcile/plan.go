package reconcile

import (
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/validation"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// Event reasons of Kubernetes' StatefulSet controller.
const (
	ReasonSuccessfulCreate     = "SuccessfulCreate"
	ReasonSuccessfulDelete     = "SuccessfulDelete"
	ReasonRecreatingFailedPod  = "RecreatingFailedPod"
	ReasonRecreatingTerminated = "RecreatingTerminatedPod"
)

// Event is an event the plan records on the StatefulSet.
type Event struct {
	Type, Reason, Message string
}

// Input is what a sync has observed.
type Input struct {
	// Set is the StatefulSet as stored (its template is the update revision's).
	Set *statefulsetv1.StatefulSet
	// CurrentSet is Set with the current revision's template (Set when the
	// revisions are the same).
	CurrentSet *statefulsetv1.StatefulSet
	// CurrentRevision and UpdateRevision name the two revisions.
	CurrentRevision, UpdateRevision string
	// Pods are the pods Set controls (claimed), terminating ones included.
	Pods []*corev1.Pod
	// Claims are the namespace's claims Set's templates name, by name.
	Claims map[string]*statefulsetv1.PersistentVolumeClaim
	Now    time.Time
}

// Plan is what a sync does, in this order: claims, pods to create, pod updates,
// pods to delete; then the status and events.
type Plan struct {
	CreateClaims []*statefulsetv1.PersistentVolumeClaim
	// UpdateClaims carry new ownerReferences (the retention policy).
	UpdateClaims []*statefulsetv1.PersistentVolumeClaim
	CreatePods   []*corev1.Pod
	UpdatePods   []*corev1.Pod
	DeletePods   []*corev1.Pod
	Events       []Event
	Status       *statefulsetv1.StatefulSetStatus
	// Requeue asks for another sync after this long (a pod becoming available
	// after minReadySeconds); 0 means none needed.
	Requeue time.Duration
	// Waiting says why an ordered step waits ("" when nothing waits), for logs.
	Waiting string
}

// IsRunningAndReady is isRunningAndReady: phase Running and Ready.
func IsRunningAndReady(p *corev1.Pod) bool {
	return p.GetStatus().GetPhase() == podutil.PodRunning && podutil.IsPodReady(p)
}

// IsRunningAndAvailable is isRunningAndAvailable: running and ready, and
// available by podutil.IsPodAvailable (ready for at least minReadySeconds; with
// minReadySeconds > 0 a Ready condition without lastTransitionTime never is).
// When not available yet it also says how long until it will be (0: unknown).
func IsRunningAndAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) (bool, time.Duration) {
	if !IsRunningAndReady(p) {
		return false, 0
	}
	if podutil.IsPodAvailable(p, minReadySeconds, now) {
		return true, 0
	}
	if at, ok := podutil.PodAvailableAt(p, minReadySeconds); ok {
		return false, at.Sub(now)
	}
	return false, 0
}

func isTerminating(p *corev1.Pod) bool { return p.GetMetadata().GetDeletionTimestamp() != nil }

func isFailed(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == podutil.PodFailed }

func isSucceeded(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == podutil.PodSucceeded }

// isHealthy: running, ready and not terminating.
func isHealthy(p *corev1.Pod) bool { return IsRunningAndReady(p) && !isTerminating(p) }

func allowsBurst(set *statefulsetv1.StatefulSet) bool {
	return set.GetSpec().GetPodManagementPolicy() == Parallel
}

// newVersionedPod is newVersionedStatefulSetPod: below the partition (RollingUpdate)
// a new pod gets the current revision, otherwise the update revision.
func newVersionedPod(in Input, ordinal int) *corev1.Pod {
	cs := in.CurrentSet
	if cs.GetSpec().GetUpdateStrategy().GetType() == RollingUpdate {
		ru := cs.GetSpec().GetUpdateStrategy().GetRollingUpdate()
		start := StartOrdinal(cs)
		if (ru.GetPartition() == 0 && ru.Partition == nil && ordinal < start+int(cs.GetStatus().GetCurrentReplicas())) ||
			(ru.Partition != nil && ordinal < start+int(ru.GetPartition())) {
			return NewPod(cs, ordinal, in.CurrentRevision)
		}
	}
	return NewPod(in.Set, ordinal, in.UpdateRevision)
}

// Status is computeReplicaStatus: the counts over set's pods, then, when a rolling
// update has brought every pod to the update revision and ready, the update
// revision becomes the current one.
func Status(in Input) (*statefulsetv1.StatefulSetStatus, time.Duration) {
	set := in.Set
	st := &statefulsetv1.StatefulSetStatus{
		ObservedGeneration: set.GetMetadata().GetGeneration(),
		CurrentRevision:    in.CurrentRevision, UpdateRevision: in.UpdateRevision,
		Conditions: set.GetStatus().GetConditions(),
	}
	if set.GetStatus() != nil {
		st.CollisionCount = set.Status.CollisionCount
	}
	var replicas, available int32
	var requeue time.Duration
	for _, p := range in.Pods {
		replicas++
		if IsRunningAndReady(p) {
			st.ReadyReplicas++
			ok, wait := IsRunningAndAvailable(p, set.GetSpec().GetMinReadySeconds(), in.Now)
			if ok {
				available++
			} else if wait > 0 && (requeue == 0 || wait < requeue) {
				requeue = wait
			}
		}
		if !isTerminating(p) {
			if Revision(p) == in.CurrentRevision {
				st.CurrentReplicas++
			}
			if Revision(p) == in.UpdateRevision {
				st.UpdatedReplicas++
			}
		}
	}
	st.Replicas = proto.Int32(replicas)
	st.AvailableReplicas = proto.Int32(available)
	if set.GetSpec().GetUpdateStrategy().GetType() == RollingUpdate &&
		st.UpdatedReplicas == replicas && st.ReadyReplicas == replicas {
		st.CurrentReplicas = st.UpdatedReplicas
		st.CurrentRevision = st.UpdateRevision
	}
	return st, requeue
}

// Decide is updateStatefulSet: what one sync does to bring set's pods and claims
// towards the spec. Ordered (OrderedReady) sets take one step at a time and wait
// for each pod to be Running and Ready (and available after minReadySeconds);
// Parallel sets do everything at once. Level-triggered: run it again on the
// result and it continues where it stopped.
func Decide(in Input) Plan {
	set := in.Set
	var plan Plan
	plan.Status, plan.Requeue = Status(in)
	if set.GetMetadata().GetDeletionTimestamp() != nil {
		return plan
	}
	start := StartOrdinal(set)
	n := Replicas(set)
	replicas := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, p := range in.Pods {
		o := Ordinal(p)
		if !IsMemberOf(set, p) || o < 0 {
			continue
		}
		if o >= start && o < start+n {
			replicas[o-start] = p
		} else {
			condemned = append(condemned, p)
		}
	}
	sort.Slice(condemned, func(i, j int) bool { return Ordinal(condemned[i]) < Ordinal(condemned[j]) })
	monotonic := !allowsBurst(set)
	minReady := set.GetSpec().GetMinReadySeconds()
	name := set.GetMetadata().GetName()
	wait := func(format string, a ...any) Plan {
		if plan.Waiting == "" {
			plan.Waiting = fmt.Sprintf(format, a...)
		}
		return plan
	}

	// The claims every living replica needs, and the retention owners of all.
	plan.UpdateClaims = retention(in, replicas, condemned)

	// Living replicas, in ordinal order.
	for i := range replicas {
		ord := start + i
		p := replicas[i]
		if p != nil && (isFailed(p) || isSucceeded(p)) {
			if !isTerminating(p) {
				reason, what := ReasonRecreatingFailedPod, "failed"
				if isSucceeded(p) {
					reason, what = ReasonRecreatingTerminated, "succeeded"
				}
				plan.DeletePods = append(plan.DeletePods, p)
				plan.Events = append(plan.Events, Event{"Warning", reason,
					fmt.Sprintf("StatefulSet %s/%s is recreating %s Pod %s", set.GetMetadata().GetNamespace(), name, what, p.GetMetadata().GetName())})
			}
			if monotonic {
				return wait("waiting for %s Pod %s to be deleted before it is recreated", "failed", p.GetMetadata().GetName())
			}
			continue
		}
		if p == nil {
			np := newVersionedPod(in, ord)
			plan.CreateClaims = append(plan.CreateClaims, missingClaims(in, set, ord, &plan)...)
			plan.CreatePods = append(plan.CreatePods, np)
			plan.Events = append(plan.Events, Event{"Normal", ReasonSuccessfulCreate,
				fmt.Sprintf("create Pod %s in StatefulSet %s successful", np.Metadata.Name, name)})
			if monotonic {
				return wait("waiting for Pod %s to be Running and Ready", np.Metadata.Name)
			}
			continue
		}
		if isTerminating(p) {
			if monotonic {
				return wait("waiting for Pod %s to terminate prior to scale up", p.GetMetadata().GetName())
			}
			continue
		}
		if !IsRunningAndReady(p) && monotonic {
			return wait("waiting for Pod %s to be Running and Ready", p.GetMetadata().GetName())
		}
		if ok, _ := IsRunningAndAvailable(p, minReady, in.Now); !ok && monotonic {
			return wait("waiting for Pod %s to be available", p.GetMetadata().GetName())
		}
		// A returning pod finds its claims; a deleted claim is made again.
		plan.CreateClaims = append(plan.CreateClaims, missingClaims(in, set, ord, &plan)...)
		if !IdentityMatches(set, p) {
			plan.UpdatePods = append(plan.UpdatePods, FixIdentity(p))
		}
	}

	// Condemned pods (ordinals out of range), highest first, each gone before the next.
	for i := len(condemned) - 1; i >= 0; i-- {
		p := condemned[i]
		if isTerminating(p) {
			if monotonic {
				return wait("waiting for Pod %s to terminate prior to scale down", p.GetMetadata().GetName())
			}
			continue
		}
		// In ordered mode only the lowest unhealthy condemned pod may go while unhealthy.
		if monotonic && !isHealthy(p) && p != firstUnhealthy(replicas, condemned) {
			return wait("waiting for Pod %s to be healthy prior to scale down", firstUnhealthy(replicas, condemned).GetMetadata().GetName())
		}
		plan.DeletePods = append(plan.DeletePods, p)
		plan.Events = append(plan.Events, Event{"Normal", ReasonSuccessfulDelete,
			fmt.Sprintf("delete Pod %s in StatefulSet %s successful", p.GetMetadata().GetName(), name)})
		if monotonic {
			return plan
		}
	}

	// The rolling update, from the highest ordinal down to the partition.
	if set.GetSpec().GetUpdateStrategy().GetType() != RollingUpdate {
		return plan
	}
	ru := set.GetSpec().GetUpdateStrategy().GetRollingUpdate()
	updateMin := int(ru.GetPartition())
	maxUnavailable := 1
	if ru.GetMaxUnavailable() != nil {
		if v, err := validation.IntOrPercent(ru.GetMaxUnavailable(), n, true); err == nil {
			maxUnavailable = max(1, v)
		}
	}
	unavailable := 0
	for i := updateMin; i < n; i++ {
		if p := replicas[i]; p == nil || !isHealthy(p) {
			unavailable++
		} else if ok, _ := IsRunningAndAvailable(p, minReady, in.Now); !ok {
			unavailable++
		}
	}
	for i := n - 1; i >= updateMin && i >= 0; i-- {
		p := replicas[i]
		if p == nil || isTerminating(p) || Revision(p) == in.UpdateRevision {
			continue
		}
		if unavailable >= maxUnavailable {
			return wait("waiting for %d unavailable pods before updating Pod %s", unavailable, p.GetMetadata().GetName())
		}
		if isHealthy(p) {
			unavailable++
		}
		plan.DeletePods = append(plan.DeletePods, p)
		plan.Status.CurrentReplicas--
		plan.Events = append(plan.Events, Event{"Normal", ReasonSuccessfulDelete,
			fmt.Sprintf("delete Pod %s in StatefulSet %s successful", p.GetMetadata().GetName(), name)})
	}
	return plan
}

// firstUnhealthy is the lowest-ordinal unhealthy pod among the replicas, then the
// condemned ones.
func firstUnhealthy(replicas, condemned []*corev1.Pod) *corev1.Pod {
	for _, p := range replicas {
		if p != nil && !isHealthy(p) {
			return p
		}
	}
	for _, p := range condemned {
		if !isHealthy(p) {
			return p
		}
	}
	return nil
}

// missingClaims are ordinal's claims that do not exist yet (each with its
// retention owners and a creation event).
func missingClaims(in Input, set *statefulsetv1.StatefulSet, ordinal int, plan *Plan) []*statefulsetv1.PersistentVolumeClaim {
	var out []*statefulsetv1.PersistentVolumeClaim
	for _, t := range set.GetSpec().GetVolumeClaimTemplates() {
		name := ClaimName(t, set, ordinal)
		if _, ok := in.Claims[name]; ok {
			continue
		}
		c := NewClaim(set, t, ordinal)
		if policy(set).GetWhenDeleted() == Delete {
			c.Metadata.OwnerReferences = []*corev1.OwnerReference{setOwner(set)}
		}
		out = append(out, c)
		plan.Events = append(plan.Events, Event{"Normal", ReasonSuccessfulCreate,
			fmt.Sprintf("create Claim %s Pod %s in StatefulSet %s success", name, PodName(set, ordinal), set.GetMetadata().GetName())})
	}
	return out
}
