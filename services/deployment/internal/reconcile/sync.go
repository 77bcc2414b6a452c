package reconcile

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// DeploymentEvent is a core/v1 Event to record on the Deployment.
type DeploymentEvent struct {
	Type    string // Normal or Warning
	Reason  string // e.g. ScalingReplicaSet
	Message string // e.g. "Scaled up replica set nginx-6c7985744b from 0 to 3"
}

// Build turns e into a core/v1 Event about d as Kubernetes' recorder writes
// it (source deployment-controller, count 1, first and last timestamp now,
// name "<deployment>.<hex nanoseconds+seq>"; seq keeps names unique in a plan).
func (e DeploymentEvent) Build(d *deploymentv1.Deployment, now time.Time, seq int) *corev1.Event {
	ts := timestamppb.New(now)
	meta := d.GetMetadata()
	return &corev1.Event{
		ApiVersion: "v1",
		Kind:       "Event",
		Metadata: &corev1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", meta.GetName(), now.UnixNano()+int64(seq)),
			Namespace: meta.GetNamespace(),
		},
		InvolvedObject: &corev1.ObjectReference{
			Kind:            "Deployment",
			Namespace:       meta.GetNamespace(),
			Name:            meta.GetName(),
			Uid:             meta.GetUid(),
			ApiVersion:      "apps/v1",
			ResourceVersion: meta.GetResourceVersion(),
		},
		Reason:             e.Reason,
		Message:            e.Message,
		Source:             &corev1.EventSource{Component: "deployment-controller"},
		FirstTimestamp:     ts,
		LastTimestamp:      ts,
		Count:              1,
		Type:               e.Type,
		ReportingComponent: "deployment-controller",
	}
}

// DeploymentPlan is one sync of a Deployment: what the controller writes, in
// this order: create NewReplicaSet, update UpdateReplicaSets, delete
// DeleteReplicaSets, then write Annotations (if AnnotationsChanged) and
// Status (if StatusChanged) on the Deployment, and record Events.
//
// Kubernetes' controller resyncs a Deployment after each of its own writes
// (its informers see them); a podwarden controller must do the same: when
// Changed() is true, plan again once the writes are stored (a rolling update
// scales up in one plan and down in the next). Requeue > 0 asks for a plan at
// now+Requeue even if nothing changes (minReadySeconds, progress deadline).
type DeploymentPlan struct {
	// NewReplicaSet is the ReplicaSet to create, or nil. Its name is
	// <deployment>-<pod-template-hash>; if the store reports it already exists
	// (a hash collision the planner could not see), increment
	// status.collisionCount on the Deployment and plan again.
	NewReplicaSet *deploymentv1.ReplicaSet
	// UpdateReplicaSets are full desired ReplicaSets: each is a copy of the
	// stored object (same resourceVersion, same status) with new
	// spec.replicas, spec.minReadySeconds and metadata.annotations.
	UpdateReplicaSets []*deploymentv1.ReplicaSet
	// DeleteReplicaSets are the stored ReplicaSets to delete (revision
	// history cleanup); none of them has replicas or pods.
	DeleteReplicaSets []*deploymentv1.ReplicaSet
	// Annotations is the Deployment's full desired metadata.annotations
	// (deployment.kubernetes.io/revision); AnnotationsChanged tells whether it
	// differs from the stored one.
	Annotations        map[string]string
	AnnotationsChanged bool
	// Status is the Deployment's full desired status; StatusChanged tells
	// whether it differs from the stored one.
	Status        *deploymentv1.DeploymentStatus
	StatusChanged bool
	// Events to record on the Deployment, in order.
	Events []DeploymentEvent
	// Requeue, when > 0, asks for another plan after this long.
	Requeue time.Duration
}

// Changed reports whether the plan writes anything.
func (p DeploymentPlan) Changed() bool {
	return p.NewReplicaSet != nil || len(p.UpdateReplicaSets) > 0 || len(p.DeleteReplicaSets) > 0 ||
		p.AnnotationsChanged || p.StatusChanged
}

// DeploymentPlanner plans Deployments. The zero value uses DefaultHash.
type DeploymentPlanner struct {
	// Hash names pod templates (pod-template-hash); nil means DefaultHash.
	Hash HashFunc
}

// PlanDeployment plans one sync of d with DefaultHash; see DeploymentPlanner.Plan.
func PlanDeployment(d *deploymentv1.Deployment, rsList []*deploymentv1.ReplicaSet, pods []*corev1.Pod, now time.Time) DeploymentPlan {
	return DeploymentPlanner{}.Plan(d, rsList, pods, now)
}

// Plan computes one sync of Deployment d, as Kubernetes' syncDeployment does.
//
// rsList are the ReplicaSets d controls (already adopted: controllerRef to
// d). pods are all pods of those ReplicaSets, terminating ones included; they
// are the truth for replica counts (replicas, ready, available with each
// ReplicaSet's minReadySeconds at now, terminating), so the plan never acts on
// a stale ReplicaSet status. Nothing passed in is modified.
func (pl DeploymentPlanner) Plan(d *deploymentv1.Deployment, rsList []*deploymentv1.ReplicaSet, pods []*corev1.Pod, now time.Time) DeploymentPlan {
	s := newSyncer(pl.Hash, d, rsList, pods, now)
	s.syncDeployment()
	return s.result()
}

// errCollision aborts a sync after a pod-template-hash collision was recorded
// in status.collisionCount.
var errCollision = errors.New("pod template hash collision")

// syncer holds the working copies one sync mutates, like the API objects
// Kubernetes' controller updates in sequence.
type syncer struct {
	hash   HashFunc
	now    time.Time
	p      deploymentParams
	orig   *deploymentv1.Deployment
	d      *deploymentv1.Deployment // working copy: annotations and status change
	rsList []*deploymentv1.ReplicaSet

	stored  map[*deploymentv1.ReplicaSet]*deploymentv1.ReplicaSet // working copy -> stored object
	podsOf  map[*deploymentv1.ReplicaSet][]*corev1.Pod
	pods    []*corev1.Pod
	created *deploymentv1.ReplicaSet
	touched []*deploymentv1.ReplicaSet
	deleted []*deploymentv1.ReplicaSet
	events  []DeploymentEvent
}

func newSyncer(hash HashFunc, d *deploymentv1.Deployment, rsList []*deploymentv1.ReplicaSet, pods []*corev1.Pod, now time.Time) *syncer {
	if hash == nil {
		hash = DefaultHash
	}
	s := &syncer{
		hash:   hash,
		now:    now,
		p:      paramsOf(d),
		orig:   d,
		d:      proto.Clone(d).(*deploymentv1.Deployment),
		stored: map[*deploymentv1.ReplicaSet]*deploymentv1.ReplicaSet{},
		podsOf: map[*deploymentv1.ReplicaSet][]*corev1.Pod{},
		pods:   pods,
	}
	if s.d.Metadata == nil {
		s.d.Metadata = &corev1.ObjectMeta{}
	}
	if s.d.Status == nil {
		s.d.Status = &deploymentv1.DeploymentStatus{}
	}
	for _, rs := range rsList {
		if rs == nil {
			continue
		}
		w := proto.Clone(rs).(*deploymentv1.ReplicaSet)
		if w.Metadata == nil {
			w.Metadata = &corev1.ObjectMeta{}
		}
		if w.Spec == nil {
			w.Spec = &deploymentv1.ReplicaSetSpec{}
		}
		if w.Spec.Replicas == nil {
			w.Spec.Replicas = proto.Int32(1)
		}
		s.stored[w] = rs
		s.rsList = append(s.rsList, w)
	}
	for _, pod := range pods {
		if w := s.ownerOf(pod); w != nil {
			s.podsOf[w] = append(s.podsOf[w], pod)
		}
	}
	for _, w := range s.rsList {
		s.observe(w)
	}
	return s
}

// ownerOf finds the working ReplicaSet a pod's controllerRef names (by uid,
// or by name when either uid is empty).
func (s *syncer) ownerOf(pod *corev1.Pod) *deploymentv1.ReplicaSet {
	ref := podutil.GetControllerOf(pod.GetMetadata())
	if ref == nil || (ref.GetKind() != "" && ref.GetKind() != "ReplicaSet") {
		return nil
	}
	for _, w := range s.rsList {
		uid := w.GetMetadata().GetUid()
		if uid != "" && ref.GetUid() != "" {
			if uid == ref.GetUid() {
				return w
			}
			continue
		}
		if w.GetMetadata().GetName() == ref.GetName() {
			return w
		}
	}
	return nil
}

// observe overwrites a working ReplicaSet's status counts with what its pods
// show at s.now (what its ReplicaSet controller would report).
func (s *syncer) observe(w *deploymentv1.ReplicaSet) {
	if w.Status == nil {
		w.Status = &deploymentv1.ReplicaSetStatus{}
	}
	var replicas, ready, available, terminating int32
	for _, pod := range s.podsOf[w] {
		if podutil.IsPodTerminating(pod) {
			terminating++
		}
		if !podutil.IsPodActive(pod) {
			continue
		}
		replicas++
		if podutil.IsPodReady(pod) {
			ready++
		}
		if podutil.IsPodAvailable(pod, w.GetSpec().GetMinReadySeconds(), s.now) {
			available++
		}
	}
	w.Status.Replicas = proto.Int32(replicas)
	w.Status.ReadyReplicas = ready
	w.Status.AvailableReplicas = available
	w.Status.TerminatingReplicas = proto.Int32(terminating)
}

// touch records that a working ReplicaSet must be written.
func (s *syncer) touch(w *deploymentv1.ReplicaSet) {
	if w == s.created || slices.Contains(s.touched, w) {
		return
	}
	s.touched = append(s.touched, w)
}

func (s *syncer) event(typ, reason, format string, args ...any) {
	s.events = append(s.events, DeploymentEvent{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// syncDeployment is Kubernetes' DeploymentController.syncDeployment after the
// listing and adoption steps.
func (s *syncer) syncDeployment() {
	sel := s.d.GetSpec().GetSelector()
	if len(sel.GetMatchLabels()) == 0 && len(sel.GetMatchExpressions()) == 0 {
		s.event(EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if s.d.Status.ObservedGeneration < s.d.GetMetadata().GetGeneration() {
			s.d.Status.ObservedGeneration = s.d.GetMetadata().GetGeneration()
		}
		return
	}
	if s.d.GetMetadata().GetDeletionTimestamp() != nil {
		s.syncStatusOnly()
		return
	}
	s.checkPausedConditions()
	if s.p.paused {
		s.sync()
		return
	}
	if s.isScalingEvent() {
		s.sync()
		return
	}
	if s.p.strategy == RecreateDeploymentStrategyType {
		s.rolloutRecreate()
		return
	}
	s.rolloutRolling()
}

// syncStatusOnly only recomputes the status (deleting Deployments).
func (s *syncer) syncStatusOnly() {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(false)
	if err != nil {
		return
	}
	s.syncDeploymentStatus(append(oldRSs, newRS), newRS)
}

// sync reconciles scaling events and paused Deployments: proportional
// scaling, history cleanup when paused, and the status without progress estimation.
func (s *syncer) sync() {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(false)
	if err != nil {
		return
	}
	s.scale(newRS, oldRSs)
	if s.p.paused {
		s.cleanupDeployment(oldRSs)
	}
	s.syncDeploymentStatus(append(oldRSs, newRS), newRS)
}

// checkPausedConditions sets Progressing=Unknown DeploymentPaused when paused
// and DeploymentResumed when resumed, so time spent paused never counts
// against the progress deadline.
func (s *syncer) checkPausedConditions() {
	if s.p.progressDeadline == nil {
		return
	}
	cond := getCondition(s.d.Status, DeploymentProgressing)
	if cond != nil && cond.GetReason() == TimedOutReason {
		return
	}
	pausedCondExists := cond != nil && cond.GetReason() == PausedDeployReason
	switch {
	case s.p.paused && !pausedCondExists:
		setCondition(s.d.Status, s.newCondition(DeploymentProgressing, ConditionUnknown, PausedDeployReason, "Deployment is paused"))
	case !s.p.paused && pausedCondExists:
		setCondition(s.d.Status, s.newCondition(DeploymentProgressing, ConditionUnknown, ResumedDeployReason, "Deployment is resumed"))
	}
}

// findNewReplicaSet returns the oldest ReplicaSet whose template equals the
// Deployment's (ignoring pod-template-hash), or nil.
func (s *syncer) findNewReplicaSet() *deploymentv1.ReplicaSet {
	sorted := slices.Clone(s.rsList)
	slices.SortFunc(sorted, cmpCreated)
	for _, rs := range sorted {
		if EqualIgnoreHash(rs.GetSpec().GetTemplate(), s.d.GetSpec().GetTemplate()) {
			return rs
		}
	}
	return nil
}

// findOldReplicaSets returns every ReplicaSet but the new one.
func (s *syncer) findOldReplicaSets(newRS *deploymentv1.ReplicaSet) []*deploymentv1.ReplicaSet {
	var old []*deploymentv1.ReplicaSet
	for _, rs := range s.rsList {
		if rs != newRS {
			old = append(old, rs)
		}
	}
	return old
}

// getAllReplicaSetsAndSyncRevision returns the new ReplicaSet (created when
// create is true and none exists) and all old ones, with the new
// ReplicaSet's and the Deployment's revision brought up to date.
func (s *syncer) getAllReplicaSetsAndSyncRevision(create bool) (*deploymentv1.ReplicaSet, []*deploymentv1.ReplicaSet, error) {
	oldRSs := s.findOldReplicaSets(s.findNewReplicaSet())
	newRS, err := s.getNewReplicaSet(oldRSs, create)
	if err != nil {
		return nil, nil, err
	}
	return newRS, oldRSs, nil
}

// getNewReplicaSet is Kubernetes' getNewReplicaSet: sync the existing new
// ReplicaSet's annotations and minReadySeconds, or build the one to create
// with revision max(old)+1 and NewRSNewReplicas replicas.
func (s *syncer) getNewReplicaSet(oldRSs []*deploymentv1.ReplicaSet, create bool) (*deploymentv1.ReplicaSet, error) {
	existing := s.findNewReplicaSet()
	newRevision := maxRevision(oldRSs) + 1

	if existing != nil {
		annotationsUpdated := setNewReplicaSetAnnotations(s.d, s.p, existing, newRevision, true)
		if annotationsUpdated || existing.Spec.MinReadySeconds != s.p.minReadySeconds {
			existing.Spec.MinReadySeconds = s.p.minReadySeconds
			s.observe(existing)
			s.touch(existing)
		}
		setDeploymentRevision(s.d, existing.GetMetadata().GetAnnotations()[RevisionAnnotation])
		if s.p.progressDeadline != nil && getCondition(s.d.Status, DeploymentProgressing) == nil {
			msg := fmt.Sprintf("Found new replica set %q", existing.GetMetadata().GetName())
			setCondition(s.d.Status, s.newCondition(DeploymentProgressing, ConditionTrue, FoundNewRSReason, msg))
		}
		return existing, nil
	}
	if !create {
		return nil, nil
	}

	template := proto.Clone(s.d.GetSpec().GetTemplate()).(*corev1.PodTemplateSpec)
	if s.d.GetSpec().GetTemplate() == nil {
		template = &corev1.PodTemplateSpec{}
	}
	var collisionCount *int32
	if s.d.Status.CollisionCount != nil {
		collisionCount = proto.Int32(s.d.Status.GetCollisionCount())
	}
	hash := s.hash(template, collisionCount)
	if template.Metadata == nil {
		template.Metadata = &corev1.ObjectMeta{}
	}
	template.Metadata.Labels = cloneAndAddLabel(template.Metadata.Labels, DefaultDeploymentUniqueLabelKey, hash)
	name := s.d.GetMetadata().GetName() + "-" + hash

	// A ReplicaSet of ours already has this name but another template: the
	// hash collided. Kubernetes bumps collisionCount and retries next sync.
	for _, rs := range s.rsList {
		if rs.GetMetadata().GetName() == name {
			s.d.Status.CollisionCount = proto.Int32(s.d.Status.GetCollisionCount() + 1)
			return nil, errCollision
		}
	}

	newRS := &deploymentv1.ReplicaSet{
		ApiVersion: "apps/v1",
		Kind:       "ReplicaSet",
		Metadata: &corev1.ObjectMeta{
			Name:              name,
			Namespace:         s.d.GetMetadata().GetNamespace(),
			CreationTimestamp: timestamppb.New(s.now.Truncate(time.Second)),
			Labels:            maps.Clone(template.Metadata.Labels),
			OwnerReferences:   []*corev1.OwnerReference{podutil.NewControllerRef(s.d.GetMetadata(), "apps/v1", "Deployment")},
		},
		Spec: &deploymentv1.ReplicaSetSpec{
			Replicas:        proto.Int32(0),
			MinReadySeconds: s.p.minReadySeconds,
			Selector:        cloneSelectorAndAddLabel(s.d.GetSpec().GetSelector(), DefaultDeploymentUniqueLabelKey, hash),
			Template:        template,
		},
		Status: &deploymentv1.ReplicaSetStatus{Replicas: proto.Int32(0), TerminatingReplicas: proto.Int32(0)},
	}
	newReplicas := s.newRSNewReplicas(append(slices.Clone(oldRSs), newRS), newRS)
	setSpecReplicas(newRS, newReplicas)
	setNewReplicaSetAnnotations(s.d, s.p, newRS, newRevision, false)

	s.created = newRS
	s.rsList = append(s.rsList, newRS)
	if newReplicas > 0 {
		s.event(EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", name, newReplicas)
	}
	setDeploymentRevision(s.d, strconv.FormatInt(newRevision, 10))
	if s.p.progressDeadline != nil {
		msg := fmt.Sprintf("Created new replica set %q", name)
		setCondition(s.d.Status, s.newCondition(DeploymentProgressing, ConditionTrue, NewReplicaSetReason, msg))
	}
	return newRS, nil
}

// newRSNewReplicas is Kubernetes' NewRSNewReplicas: how far the new
// ReplicaSet may grow now (up to replicas+maxSurge pods in total for
// RollingUpdate, straight to replicas for Recreate).
func (s *syncer) newRSNewReplicas(allRSs []*deploymentv1.ReplicaSet, newRS *deploymentv1.ReplicaSet) int32 {
	if s.p.strategy == RecreateDeploymentStrategyType {
		return s.p.replicas
	}
	maxSurge := s.p.maxSurgeOf()
	current := sumSpecReplicas(allRSs)
	maxTotal := s.p.replicas + maxSurge
	if current >= maxTotal {
		return specReplicas(newRS)
	}
	up := min(maxTotal-current, s.p.replicas-specReplicas(newRS))
	return specReplicas(newRS) + up
}

// isScalingEvent reports whether an active ReplicaSet was sized for another
// spec.replicas (its desired-replicas annotation differs).
func (s *syncer) isScalingEvent() bool {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(false)
	if err != nil {
		return false
	}
	for _, rs := range filterActive(append(oldRSs, newRS)) {
		desired, ok := desiredReplicasAnnotation(rs)
		if ok && desired != s.p.replicas {
			return true
		}
	}
	return false
}

// findActiveOrLatest returns the only active ReplicaSet, the newest one when
// none is active, or nil when several are (Kubernetes' FindActiveOrLatest).
func findActiveOrLatest(newRS *deploymentv1.ReplicaSet, oldRSs []*deploymentv1.ReplicaSet) *deploymentv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	sorted := slices.Clone(oldRSs)
	slices.SortFunc(sorted, func(a, b *deploymentv1.ReplicaSet) int { return cmpCreated(b, a) })
	active := filterActive(append(slices.Clone(sorted), newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return sorted[0]
	case 1:
		return active[0]
	}
	return nil
}

// isSaturated reports whether the new ReplicaSet runs all of spec.replicas, available.
func (s *syncer) isSaturated(rs *deploymentv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := desiredReplicasAnnotation(rs)
	if !ok {
		return false
	}
	return specReplicas(rs) == s.p.replicas && desired == s.p.replicas && rs.GetStatus().GetAvailableReplicas() == s.p.replicas
}

// scale is Kubernetes' scale: resize the only active ReplicaSet, scale old
// ones to 0 once the new one is saturated, or spread the difference between
// replicas+maxSurge and the current total proportionally over all active
// ReplicaSets (bigger ones first, leftovers to the biggest).
func (s *syncer) scale(newRS *deploymentv1.ReplicaSet, oldRSs []*deploymentv1.ReplicaSet) {
	if rs := findActiveOrLatest(newRS, oldRSs); rs != nil {
		if specReplicas(rs) == s.p.replicas {
			return
		}
		s.scaleReplicaSetAndRecordEvent(rs, s.p.replicas)
		return
	}
	if s.isSaturated(newRS) {
		for _, old := range filterActive(oldRSs) {
			s.scaleReplicaSetAndRecordEvent(old, 0)
		}
		return
	}
	if !s.p.isRollingUpdate() {
		return
	}
	allRSs := filterActive(append(slices.Clone(oldRSs), newRS))
	allRSsReplicas := sumSpecReplicas(allRSs)
	allowedSize := int32(0)
	if s.p.replicas > 0 {
		allowedSize = s.p.replicas + s.p.maxSurgeOf()
	}
	toAdd := allowedSize - allRSsReplicas
	switch {
	case toAdd > 0:
		slices.SortFunc(allRSs, cmpBySizeNewer)
	case toAdd < 0:
		slices.SortFunc(allRSs, cmpBySizeOlder)
	}
	added := int32(0)
	sizes := make([]int32, len(allRSs))
	for i, rs := range allRSs {
		sizes[i] = specReplicas(rs)
		if toAdd != 0 {
			proportion := s.getProportion(rs, toAdd, added)
			sizes[i] += proportion
			added += proportion
		}
	}
	for i, rs := range allRSs {
		if i == 0 && toAdd != 0 {
			sizes[i] = max(sizes[i]+toAdd-added, 0)
		}
		s.scaleReplicaSet(rs, sizes[i])
	}
}

// getProportion is how many replicas rs gains (or loses) out of toAdd, given
// added so far: its share of the new maximum, bounded by what is left.
func (s *syncer) getProportion(rs *deploymentv1.ReplicaSet, toAdd, added int32) int32 {
	if rs == nil || specReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	fraction := s.getReplicaSetFraction(rs)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(fraction, allowed)
	}
	return max(fraction, allowed)
}

// getReplicaSetFraction estimates rs's change: its size times the new
// maximum (replicas+maxSurge) over the maximum it was sized for (its
// max-replicas annotation, else the Deployment's status.replicas).
func (s *syncer) getReplicaSetFraction(rs *deploymentv1.ReplicaSet) int32 {
	if s.p.replicas == 0 {
		return -specReplicas(rs)
	}
	deploymentMaxReplicas := s.p.replicas + s.p.maxSurgeOf()
	before, ok := maxReplicasAnnotation(rs)
	if !ok || before == 0 {
		before = s.orig.GetStatus().GetReplicas()
	}
	if before == 0 {
		return 0
	}
	newSize := float64(specReplicas(rs)) * float64(deploymentMaxReplicas) / float64(before)
	return roundToInt32(newSize) - specReplicas(rs)
}

// roundToInt32 rounds half away from zero (client-go's integer.RoundToInt32).
func roundToInt32(a float64) int32 {
	if a < 0 {
		return int32(a - 0.5)
	}
	return int32(a + 0.5)
}

// scaleReplicaSetAndRecordEvent resizes rs unless it already has newScale.
func (s *syncer) scaleReplicaSetAndRecordEvent(rs *deploymentv1.ReplicaSet, newScale int32) bool {
	if specReplicas(rs) == newScale {
		return false
	}
	return s.scaleReplicaSet(rs, newScale)
}

// scaleReplicaSet writes newScale and the desired/max-replicas annotations
// when either differs, recording a ScalingReplicaSet event for a size change.
func (s *syncer) scaleReplicaSet(rs *deploymentv1.ReplicaSet, newScale int32) bool {
	maxReplicas := s.p.replicas + s.p.maxSurgeOf()
	sizeNeedsUpdate := specReplicas(rs) != newScale
	if !sizeNeedsUpdate && !replicasAnnotationsNeedUpdate(rs, s.p.replicas, maxReplicas) {
		return false
	}
	oldScale := specReplicas(rs)
	setSpecReplicas(rs, newScale)
	setReplicasAnnotations(rs, s.p.replicas, maxReplicas)
	s.touch(rs)
	if !sizeNeedsUpdate {
		return false
	}
	op := "down"
	if oldScale < newScale {
		op = "up"
	}
	s.event(EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, rs.GetMetadata().GetName(), oldScale, newScale)
	return true
}

// cleanupDeployment deletes the oldest old ReplicaSets beyond
// revisionHistoryLimit, skipping any that still has replicas, pods, an
// unobserved generation or a deletionTimestamp.
func (s *syncer) cleanupDeployment(oldRSs []*deploymentv1.ReplicaSet) {
	if s.p.revisionHistoryLimit == nil {
		return
	}
	var cleanable []*deploymentv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.GetMetadata().GetDeletionTimestamp() == nil {
			cleanable = append(cleanable, rs)
		}
	}
	diff := int32(len(cleanable)) - *s.p.revisionHistoryLimit
	if diff <= 0 {
		return
	}
	slices.SortFunc(cleanable, cmpByRevision)
	for i := int32(0); i < diff; i++ {
		rs := cleanable[i]
		stored := s.stored[rs]
		if stored == nil || rs.GetStatus().GetReplicas() != 0 || stored.GetStatus().GetReplicas() != 0 ||
			specReplicas(rs) != 0 || len(s.podsOf[rs]) > 0 ||
			stored.GetMetadata().GetGeneration() > stored.GetStatus().GetObservedGeneration() {
			continue
		}
		s.deleted = append(s.deleted, rs)
	}
}

// result turns the working copies into the plan.
func (s *syncer) result() DeploymentPlan {
	plan := DeploymentPlan{Events: s.events}
	if s.created != nil {
		rs := proto.Clone(s.created).(*deploymentv1.ReplicaSet)
		rs.Status = nil
		plan.NewReplicaSet = rs
	}
	for _, w := range s.touched {
		if slices.Contains(s.deleted, w) {
			continue
		}
		out := proto.Clone(s.stored[w]).(*deploymentv1.ReplicaSet)
		if out.Metadata == nil {
			out.Metadata = &corev1.ObjectMeta{}
		}
		if out.Spec == nil {
			out.Spec = &deploymentv1.ReplicaSetSpec{}
		}
		out.Spec.Replicas = proto.Int32(specReplicas(w))
		out.Spec.MinReadySeconds = w.GetSpec().GetMinReadySeconds()
		out.Metadata.Annotations = maps.Clone(w.GetMetadata().GetAnnotations())
		if proto.Equal(out, s.stored[w]) {
			continue // changed and changed back within the plan
		}
		plan.UpdateReplicaSets = append(plan.UpdateReplicaSets, out)
	}
	for _, w := range s.deleted {
		plan.DeleteReplicaSets = append(plan.DeleteReplicaSets, s.stored[w])
	}
	plan.Annotations = maps.Clone(s.d.GetMetadata().GetAnnotations())
	plan.AnnotationsChanged = !maps.Equal(plan.Annotations, s.orig.GetMetadata().GetAnnotations())
	plan.Status = s.d.Status
	origStatus := s.orig.GetStatus()
	if origStatus == nil {
		origStatus = &deploymentv1.DeploymentStatus{}
	}
	plan.StatusChanged = !proto.Equal(plan.Status, origStatus)
	plan.Requeue = s.requeue()
	return plan
}
