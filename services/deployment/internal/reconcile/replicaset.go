package reconcile

import (
	"time"

	"github.com/podwarden/podwarden/shared/podutil"
	"github.com/podwarden/podwarden/shared/podview"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
)

// BurstReplicas is Kubernetes' burstReplicas: at most this many pods are
// created, or deleted, by one sync of a ReplicaSet.
const BurstReplicas = 500

// The owner kinds the ReplicaSet logic serves, as written in ownerReferences
// and events.
const (
	rsOwnerAPIVersion = "apps/v1"
	rsOwnerKind       = "ReplicaSet"
	rcOwnerAPIVersion = "v1"
	rcOwnerKind       = "ReplicationController"
)

// Event sources, as Kubernetes' controllers name themselves.
const (
	rsEventComponent = "replicaset-controller"
	rcEventComponent = "replication-controller"
)

// ReplicaSetPlan is what one sync of a ReplicaSet (or ReplicationController)
// should do.
type ReplicaSetPlan struct {
	// Create holds full pods to create, stamped from the template (no uid or
	// resourceVersion: the store assigns them).
	Create []*corev1.Pod
	// Delete holds the pods to delete, the first victim first.
	Delete []*corev1.Pod
	// Status is the status to write, computed as Kubernetes' calculateStatus
	// from the pods observed before this plan's actions, with the planner's
	// ManageErr (nil: any ReplicaFailure condition is cleared). When applying
	// Create/Delete fails, recompute it with CalculateReplicaSetStatus.
	Status *deploymentv1.ReplicaSetStatus
	// Events are the Normal events Kubernetes records for the actions:
	// SuccessfulCreate "Created pod: <name>", SuccessfulDelete "Deleted pod: <name>".
	// Record each once its action is stored.
	Events []*corev1.Event
	// RequeueAfter, when positive, is when to sync again because a Ready pod
	// becomes available (minReadySeconds) with nothing else to wake the owner,
	// or because creates wait for a refusal's RetryAt.
	RequeueAfter time.Duration
	// RefusalResolved: the planner's CreateRefused no longer holds (forget it).
	RefusalResolved bool
}

// ReplicaSetPlanner holds the knobs of ReplicaSet planning; its zero value is
// Kubernetes' behaviour with random pod names.
type ReplicaSetPlanner struct {
	// NameSuffix returns the random part of a new pod's name ("x8kfz");
	// nil uses Kubernetes' generator (5 characters from util/rand).
	NameSuffix func() string
	// BurstReplicas caps creates and deletes per sync; 0 means BurstReplicas.
	BurstReplicas int
	// ManageErr is the error of the last attempt to create or delete pods for
	// this owner; non-nil sets the ReplicaFailure condition (reason
	// FailedCreate or FailedDelete), nil clears it.
	ManageErr error
	// CreateRefused is the last refusal, by the node service's admission (a
	// ResourceQuota, a LimitRange), of a pod this owner asked for: the
	// asynchronous form of Kubernetes' failed create. Until the refusal is
	// resolved (the owner has all its replicas and the node service has
	// confirmed each of them) it is the ReplicaFailure condition's error, and
	// before RetryAt no pod is created (Kubernetes' rate-limited requeue after a
	// failed sync). Refused lists the refusals not yet reported: each is a
	// Warning FailedCreate event "Error creating: <message>".
	CreateRefused error
	RetryAt       time.Time
	Refused       []string
}

// PlanReplicaSet plans one sync of rs with the default planner. pods are the
// pods rs controls (claimed), active and inactive; related are the pods of
// the other ReplicaSets with the same controller (the Deployment), used to
// rank scale-down victims by co-location, and may be nil.
func PlanReplicaSet(rs *deploymentv1.ReplicaSet, pods []*corev1.Pod, related []*corev1.Pod, now time.Time) ReplicaSetPlan {
	return ReplicaSetPlanner{}.PlanReplicaSet(rs, pods, related, now)
}

// PlanReplicationController plans one sync of rc with the default planner;
// pods are the pods rc controls, active and inactive.
func PlanReplicationController(rc *deploymentv1.ReplicationController, pods []*corev1.Pod, now time.Time) ReplicaSetPlan {
	return ReplicaSetPlanner{}.PlanReplicationController(rc, pods, now)
}

// PlanReplicaSet is Kubernetes' syncReplicaSet decision for rs: manageReplicas
// (create from the template or delete by rank, at most BurstReplicas, nothing
// while rs is being deleted) and calculateStatus.
func (p ReplicaSetPlanner) PlanReplicaSet(rs *deploymentv1.ReplicaSet, pods []*corev1.Pod, related []*corev1.Pod, now time.Time) ReplicaSetPlan {
	return p.plan(replicaSetOwner(rs), pods, related, now)
}

// PlanReplicationController is PlanReplicaSet for a ReplicationController:
// pods are owned with apiVersion v1, kind ReplicationController, events come
// from replication-controller. Kubernetes runs the ReplicaSet code for it.
func (p ReplicaSetPlanner) PlanReplicationController(rc *deploymentv1.ReplicationController, pods []*corev1.Pod, now time.Time) ReplicaSetPlan {
	return p.plan(replicationControllerOwner(rc), pods, nil, now)
}

// replicaOwner is the part of a ReplicaSet or ReplicationController the
// planner reads.
type replicaOwner struct {
	apiVersion      string
	kind            string
	component       string
	meta            *corev1.ObjectMeta
	replicas        int32
	minReadySeconds int32
	template        *corev1.PodTemplateSpec
	status          *deploymentv1.ReplicaSetStatus
}

func replicaSetOwner(rs *deploymentv1.ReplicaSet) replicaOwner {
	spec := rs.GetSpec()
	var replicas *int32
	if spec != nil {
		replicas = spec.Replicas
	}
	return replicaOwner{
		apiVersion:      rsOwnerAPIVersion,
		kind:            rsOwnerKind,
		component:       rsEventComponent,
		meta:            rs.GetMetadata(),
		replicas:        desiredReplicas(replicas),
		minReadySeconds: spec.GetMinReadySeconds(),
		template:        spec.GetTemplate(),
		status:          rs.GetStatus(),
	}
}

func replicationControllerOwner(rc *deploymentv1.ReplicationController) replicaOwner {
	spec := rc.GetSpec()
	var replicas *int32
	if spec != nil {
		replicas = spec.Replicas
	}
	return replicaOwner{
		apiVersion:      rcOwnerAPIVersion,
		kind:            rcOwnerKind,
		component:       rcEventComponent,
		meta:            rc.GetMetadata(),
		replicas:        desiredReplicas(replicas),
		minReadySeconds: spec.GetMinReadySeconds(),
		template:        spec.GetTemplate(),
		status:          rc.GetStatus(),
	}
}

// desiredReplicas reads the optional spec.replicas; unset is Kubernetes' default 1.
func desiredReplicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// controllerRef is the ownerReference stamped on the owner's pods.
func (o replicaOwner) controllerRef() *corev1.OwnerReference {
	return podutil.NewControllerRef(o.meta, o.apiVersion, o.kind)
}

func (p ReplicaSetPlanner) plan(o replicaOwner, pods, related []*corev1.Pod, now time.Time) ReplicaSetPlan {
	active, terminating := splitReplicaPods(pods)

	var plan ReplicaSetPlan
	manageErr := p.ManageErr
	diff := len(active) - int(o.replicas)
	if p.CreateRefused != nil {
		if diff >= 0 && allConfirmed(active) {
			plan.RefusalResolved = true
		} else if manageErr == nil {
			manageErr = createError{p.CreateRefused}
		}
	}
	holdCreates := p.CreateRefused != nil && !plan.RefusalResolved && now.Before(p.RetryAt)
	if o.meta.GetDeletionTimestamp() == nil {
		switch {
		case diff < 0 && holdCreates:
			plan.RequeueAfter = p.RetryAt.Sub(now)
		case diff < 0:
			plan.Create = p.podsToCreate(o, min(-diff, p.burst()), pods, related, now)
		case diff > 0:
			plan.Delete = podsToDelete(o, active, related, min(diff, p.burst()), now)
		}
	}
	plan.Status = calculateReplicaStatus(o, active, terminating, manageErr, now)
	for i, msg := range p.Refused {
		plan.Events = append(plan.Events, replicaOwnerEvent(o, rsEventWarning, ReasonFailedCreate, "Error creating: "+msg, now, i))
	}
	plan.Events = append(plan.Events, replicaActionEvents(o, plan.Create, plan.Delete, now)...)
	if manageErr == nil {
		plan.RequeueAfter = availabilityRequeue(active, o.minReadySeconds, now)
	}
	return plan
}

// createError is a failed create whatever the pods in view say (a refusal
// reaches the owner's cache after the event that reported it).
type createError struct{ error }

// allConfirmed reports whether the node service has reported on every pod (a
// pod of the view that no event has reached yet may still be refused).
func allConfirmed(pods []*corev1.Pod) bool {
	for _, pod := range pods {
		if podview.ObservedVersion(pod) == 0 {
			return false
		}
	}
	return true
}

func (p ReplicaSetPlanner) burst() int {
	if p.BurstReplicas > 0 {
		return p.BurstReplicas
	}
	return BurstReplicas
}

func (p ReplicaSetPlanner) nameSuffix() string {
	if p.NameSuffix != nil {
		return p.NameSuffix()
	}
	return utilrand.String(generatedNameRandomLength)
}

// maxNameSuffixAttempts bounds the draws of a suffix that does not clash with
// an existing pod name; after that the store reports the clash.
const maxNameSuffixAttempts = 8

// podsToCreate stamps n pods from the owner's template, with names unused by
// the pods already known.
func (p ReplicaSetPlanner) podsToCreate(o replicaOwner, n int, pods, related []*corev1.Pod, now time.Time) []*corev1.Pod {
	used := make(map[string]bool, len(pods)+len(related)+n)
	for _, list := range [][]*corev1.Pod{pods, related} {
		for _, pod := range list {
			used[pod.GetMetadata().GetName()] = true
		}
	}
	ref := o.controllerRef()
	out := make([]*corev1.Pod, 0, n)
	for range n {
		var pod *corev1.Pod
		for range maxNameSuffixAttempts {
			pod = PodFromTemplate(o.template, o.meta.GetNamespace(), ref, p.nameSuffix(), now)
			if !used[pod.GetMetadata().GetName()] {
				break
			}
		}
		used[pod.GetMetadata().GetName()] = true
		out = append(out, pod)
	}
	return out
}

// podsToDelete is Kubernetes' getPodsToDelete: the first n active pods by
// deletion rank. Kubernetes ranks by co-location only for a ReplicaSet with a
// controller (its Deployment): the ranks count active pods of all ReplicaSets
// of that controller. Without a controller every rank is 0.
func podsToDelete(o replicaOwner, active, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	sorted := append([]*corev1.Pod(nil), active...)
	var rankedAgainst []*corev1.Pod
	if podutil.GetControllerOf(o.meta) != nil {
		rankedAgainst = unionPods(active, related)
	}
	sortPodsByRank(sorted, coLocationRanks(sorted, rankedAgainst), now)
	return sorted[:n]
}

// availabilityRequeue is how long until the first Ready but not yet available
// pod becomes available, 0 when none is waiting. Kubernetes requeues after
// minReadySeconds for this; the exact instant is known here.
func availabilityRequeue(active []*corev1.Pod, minReadySeconds int32, now time.Time) time.Duration {
	if minReadySeconds <= 0 {
		return 0
	}
	var wait time.Duration
	for _, pod := range active {
		if !podutil.IsPodReady(pod) || podutil.IsPodAvailable(pod, minReadySeconds, now) {
			continue
		}
		d := time.Duration(minReadySeconds) * time.Second
		if at, ok := podutil.PodAvailableAt(pod, minReadySeconds); ok && at.After(now) {
			d = at.Sub(now)
		}
		if wait == 0 || d < wait {
			wait = d
		}
	}
	return wait
}
