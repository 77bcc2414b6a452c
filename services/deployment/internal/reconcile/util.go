// Package reconcile holds the pure decision logic of the Deployment and
// ReplicaSet controllers: given the stored objects and a time, it returns what
// the controller should write. Nothing here does I/O.
//
// The Deployment half reproduces Kubernetes' pkg/controller/deployment
// (sync.go, rolling.go, recreate.go, progress.go, util/deployment_util.go) and
// kubectl's rollout history / undo / status helpers on podwarden's proto types.
package reconcile

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// Condition statuses (Kubernetes' spelling) of the Deployment's conditions.
const (
	ConditionTrue    = podutil.ConditionTrue
	ConditionFalse   = podutil.ConditionFalse
	ConditionUnknown = podutil.ConditionUnknown
)

// Annotations and labels the Deployment controller reads and writes.
const (
	// RevisionAnnotation records a ReplicaSet's (and its Deployment's) rollout sequence number.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists the older revisions a reused ReplicaSet served, comma separated.
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation is spec.replicas of the Deployment when the ReplicaSet was last scaled.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// MaxReplicasAnnotation is spec.replicas + maxSurge when the ReplicaSet was last scaled.
	MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
	// ChangeCauseAnnotation is copied from the Deployment to its new ReplicaSet; rollout history shows it.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	// LastAppliedConfigAnnotation is kubectl apply's annotation; it is never copied to ReplicaSets.
	LastAppliedConfigAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
	// DeprecatedRollbackToAnnotation is extensions/v1beta1's rollback request; never copied.
	DeprecatedRollbackToAnnotation = "deprecated.deployment.rollback.to"
	// DefaultDeploymentUniqueLabelKey is the label added to a ReplicaSet's selector,
	// labels and template so that the ReplicaSets of one Deployment never overlap.
	DefaultDeploymentUniqueLabelKey = "pod-template-hash"
)

// Deployment strategies and condition vocabulary (Kubernetes' apps/v1 and deployment_util.go).
const (
	RecreateDeploymentStrategyType      = "Recreate"
	RollingUpdateDeploymentStrategyType = "RollingUpdate"

	DeploymentAvailable      = "Available"
	DeploymentProgressing    = "Progressing"
	DeploymentReplicaFailure = "ReplicaFailure"

	ReplicaSetUpdatedReason    = "ReplicaSetUpdated"
	FailedRSCreateReason       = "ReplicaSetCreateError"
	NewReplicaSetReason        = "NewReplicaSetCreated"
	FoundNewRSReason           = "FoundNewReplicaSet"
	NewRSAvailableReason       = "NewReplicaSetAvailable"
	TimedOutReason             = "ProgressDeadlineExceeded"
	PausedDeployReason         = "DeploymentPaused"
	ResumedDeployReason        = "DeploymentResumed"
	MinimumReplicasAvailable   = "MinimumReplicasAvailable"
	MinimumReplicasUnavailable = "MinimumReplicasUnavailable"

	// EventTypeNormal and EventTypeWarning are core/v1 Event types.
	EventTypeNormal  = "Normal"
	EventTypeWarning = "Warning"
)

// apps/v1 defaults, applied by the planner to unset fields so an undefaulted
// Deployment plans exactly like a defaulted one.
const (
	defaultMaxSurge                = "25%"
	defaultMaxUnavailable          = "25%"
	defaultRevisionHistoryLimit    = 10
	defaultProgressDeadlineSeconds = 600
)

// annotationsToSkip are never copied from a Deployment to its ReplicaSets, nor
// restored from a ReplicaSet to its Deployment on rollback.
var annotationsToSkip = map[string]bool{
	LastAppliedConfigAnnotation:    true,
	RevisionAnnotation:             true,
	RevisionHistoryAnnotation:      true,
	DesiredReplicasAnnotation:      true,
	MaxReplicasAnnotation:          true,
	DeprecatedRollbackToAnnotation: true,
}

// deploymentParams is a Deployment's spec with the apps/v1 defaults applied.
type deploymentParams struct {
	replicas             int32
	strategy             string
	maxSurge             *intstr.IntOrString
	maxUnavailable       *intstr.IntOrString
	minReadySeconds      int32
	revisionHistoryLimit *int32 // nil: keep everything
	progressDeadline     *int32 // nil: no deadline
	paused               bool
}

func paramsOf(d *deploymentv1.Deployment) deploymentParams {
	spec := d.GetSpec()
	p := deploymentParams{
		replicas:        1,
		strategy:        spec.GetStrategy().GetType(),
		minReadySeconds: spec.GetMinReadySeconds(),
		paused:          spec.GetPaused(),
	}
	if spec.Replicas != nil {
		p.replicas = spec.GetReplicas()
	}
	if p.strategy == "" {
		p.strategy = RollingUpdateDeploymentStrategyType
	}
	if p.strategy == RollingUpdateDeploymentStrategyType {
		ru := spec.GetStrategy().GetRollingUpdate()
		p.maxSurge = intOrPercent(ru.GetMaxSurge(), defaultMaxSurge)
		p.maxUnavailable = intOrPercent(ru.GetMaxUnavailable(), defaultMaxUnavailable)
	}
	limit := int32(defaultRevisionHistoryLimit)
	if spec.RevisionHistoryLimit != nil {
		limit = spec.GetRevisionHistoryLimit()
	}
	if limit != math.MaxInt32 {
		p.revisionHistoryLimit = &limit
	}
	deadline := int32(defaultProgressDeadlineSeconds)
	if spec.ProgressDeadlineSeconds != nil {
		deadline = spec.GetProgressDeadlineSeconds()
	}
	if deadline != math.MaxInt32 {
		p.progressDeadline = &deadline
	}
	return p
}

// intOrPercent converts a google.protobuf.Value (number or "25%") into an
// IntOrString; a missing or null value takes def.
func intOrPercent(v *structpb.Value, def string) *intstr.IntOrString {
	var out intstr.IntOrString
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		out = intstr.FromInt32(int32(k.NumberValue))
	case *structpb.Value_StringValue:
		if n, err := strconv.ParseInt(k.StringValue, 10, 32); err == nil {
			out = intstr.FromInt32(int32(n))
		} else {
			out = intstr.FromString(k.StringValue)
		}
	default:
		out = intstr.FromString(def)
	}
	return &out
}

func (p deploymentParams) isRollingUpdate() bool {
	return p.strategy == RollingUpdateDeploymentStrategyType
}

// resolveFenceposts turns maxSurge (rounded up) and maxUnavailable (rounded
// down) into absolute numbers; when both resolve to 0, maxUnavailable is 1.
func resolveFenceposts(maxSurge, maxUnavailable *intstr.IntOrString, desired int32) (int32, int32) {
	zero := intstr.FromInt32(0)
	surge, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxSurge, zero), int(desired), true)
	if err != nil {
		surge = 0
	}
	unavailable, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxUnavailable, zero), int(desired), false)
	if err != nil {
		unavailable = 0
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return int32(surge), int32(unavailable)
}

// maxUnavailableOf is Kubernetes' MaxUnavailable: 0 for Recreate or 0 replicas, capped at replicas.
func (p deploymentParams) maxUnavailableOf() int32 {
	if !p.isRollingUpdate() || p.replicas == 0 {
		return 0
	}
	_, unavailable := resolveFenceposts(p.maxSurge, p.maxUnavailable, p.replicas)
	return min(unavailable, p.replicas)
}

// maxSurgeOf is Kubernetes' MaxSurge: 0 for Recreate.
func (p deploymentParams) maxSurgeOf() int32 {
	if !p.isRollingUpdate() {
		return 0
	}
	surge, _ := resolveFenceposts(p.maxSurge, p.maxUnavailable, p.replicas)
	return surge
}

// HashFunc names a pod template: the pod-template-hash label value and the
// suffix of the ReplicaSet name. collisionCount is the Deployment's
// status.collisionCount (nil when unset).
type HashFunc func(template *corev1.PodTemplateSpec, collisionCount *int32) string

// DefaultHash is Kubernetes' controller.ComputeHash on podwarden's types: an
// FNV-32a over the deterministic encoding of the template, then the
// collision count, rendered with rand.SafeEncodeString.
func DefaultHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(template)
	if err == nil {
		h.Write(b)
	}
	if collisionCount != nil {
		buf := make([]byte, 8)
		binary.LittleEndian.PutUint32(buf, uint32(*collisionCount))
		h.Write(buf)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// EqualIgnoreHash reports whether two pod templates are equal once the
// pod-template-hash label is removed from both.
func EqualIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	return proto.Equal(templateWithoutHash(a), templateWithoutHash(b))
}

// templateWithoutHash returns a copy of t without the pod-template-hash label,
// with empty labels/metadata normalised to unset so nil and empty compare equal.
func templateWithoutHash(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	if t == nil {
		return &corev1.PodTemplateSpec{}
	}
	c := proto.Clone(t).(*corev1.PodTemplateSpec)
	if c.Metadata != nil {
		delete(c.Metadata.Labels, DefaultDeploymentUniqueLabelKey)
		if len(c.Metadata.Labels) == 0 {
			c.Metadata.Labels = nil
		}
		if len(c.Metadata.Annotations) == 0 {
			c.Metadata.Annotations = nil
		}
		if proto.Size(c.Metadata) == 0 {
			c.Metadata = nil
		}
	}
	if c.Spec != nil && proto.Size(c.Spec) == 0 {
		c.Spec = nil
	}
	return c
}

// revisionOf parses a ReplicaSet's (or any object's) revision annotation: 0
// when absent, an error when not an integer.
func revisionOf(meta *corev1.ObjectMeta) (int64, error) {
	v, ok := meta.GetAnnotations()[RevisionAnnotation]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// Revision returns the revision annotation of a Deployment or ReplicaSet
// (0 when absent, an error when it is not an integer).
func Revision(meta *corev1.ObjectMeta) (int64, error) { return revisionOf(meta) }

// maxRevision is the highest parseable revision among rss.
func maxRevision(rss []*deploymentv1.ReplicaSet) int64 {
	var top int64
	for _, rs := range rss {
		if v, err := revisionOf(rs.GetMetadata()); err == nil && v > top {
			top = v
		}
	}
	return top
}

// specReplicas is rs.spec.replicas with the apps/v1 default of 1.
func specReplicas(rs *deploymentv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	if rs.GetSpec() == nil || rs.GetSpec().Replicas == nil {
		return 1
	}
	return rs.GetSpec().GetReplicas()
}

func setSpecReplicas(rs *deploymentv1.ReplicaSet, n int32) {
	if rs.Spec == nil {
		rs.Spec = &deploymentv1.ReplicaSetSpec{}
	}
	rs.Spec.Replicas = proto.Int32(n)
}

// filterActive keeps the ReplicaSets with spec.replicas > 0 (Kubernetes' FilterActiveReplicaSets).
func filterActive(rss []*deploymentv1.ReplicaSet) []*deploymentv1.ReplicaSet {
	var out []*deploymentv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && specReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

func sumSpecReplicas(rss []*deploymentv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += specReplicas(rs)
		}
	}
	return n
}

func sumStatus(rss []*deploymentv1.ReplicaSet, field func(*deploymentv1.ReplicaSetStatus) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += field(rs.GetStatus())
		}
	}
	return n
}

func statusReplicas(s *deploymentv1.ReplicaSetStatus) int32    { return s.GetReplicas() }
func statusReady(s *deploymentv1.ReplicaSetStatus) int32       { return s.GetReadyReplicas() }
func statusAvailable(s *deploymentv1.ReplicaSetStatus) int32   { return s.GetAvailableReplicas() }
func statusTerminating(s *deploymentv1.ReplicaSetStatus) int32 { return s.GetTerminatingReplicas() }

// createdBefore orders ReplicaSets by creationTimestamp, then name
// (Kubernetes' ReplicaSetsByCreationTimestamp).
func createdBefore(a, b *deploymentv1.ReplicaSet) bool {
	ta, tb := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime()
	if a.GetMetadata().GetCreationTimestamp() == nil {
		ta = time.Time{}
	}
	if b.GetMetadata().GetCreationTimestamp() == nil {
		tb = time.Time{}
	}
	if ta.Equal(tb) {
		return a.GetMetadata().GetName() < b.GetMetadata().GetName()
	}
	return ta.Before(tb)
}

func cmpCreated(a, b *deploymentv1.ReplicaSet) int {
	switch {
	case createdBefore(a, b):
		return -1
	case createdBefore(b, a):
		return 1
	}
	return 0
}

// cmpBySizeOlder: larger first, ties oldest first (ReplicaSetsBySizeOlder).
func cmpBySizeOlder(a, b *deploymentv1.ReplicaSet) int {
	if ra, rb := specReplicas(a), specReplicas(b); ra != rb {
		if ra > rb {
			return -1
		}
		return 1
	}
	return cmpCreated(a, b)
}

// cmpBySizeNewer: larger first, ties newest first (ReplicaSetsBySizeNewer).
func cmpBySizeNewer(a, b *deploymentv1.ReplicaSet) int {
	if ra, rb := specReplicas(a), specReplicas(b); ra != rb {
		if ra > rb {
			return -1
		}
		return 1
	}
	return cmpCreated(b, a)
}

// cmpByRevision: lowest revision first, creation order when equal or unparseable.
func cmpByRevision(a, b *deploymentv1.ReplicaSet) int {
	ra, errA := revisionOf(a.GetMetadata())
	rb, errB := revisionOf(b.GetMetadata())
	if errA != nil || errB != nil || ra == rb {
		return cmpCreated(a, b)
	}
	if ra < rb {
		return -1
	}
	return 1
}

// desiredReplicasAnnotation reads deployment.kubernetes.io/desired-replicas.
func desiredReplicasAnnotation(rs *deploymentv1.ReplicaSet) (int32, bool) {
	return int32Annotation(rs, DesiredReplicasAnnotation)
}

// maxReplicasAnnotation reads deployment.kubernetes.io/max-replicas.
func maxReplicasAnnotation(rs *deploymentv1.ReplicaSet) (int32, bool) {
	return int32Annotation(rs, MaxReplicasAnnotation)
}

func int32Annotation(rs *deploymentv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.GetMetadata().GetAnnotations()[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

func ensureAnnotations(meta *corev1.ObjectMeta) map[string]string {
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	return meta.Annotations
}

// replicasAnnotationsNeedUpdate reports whether desired/max-replicas differ from the given values.
func replicasAnnotationsNeedUpdate(rs *deploymentv1.ReplicaSet, desired, maxReplicas int32) bool {
	a := rs.GetMetadata().GetAnnotations()
	return a[DesiredReplicasAnnotation] != strconv.Itoa(int(desired)) || a[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

// setReplicasAnnotations writes desired/max-replicas and reports a change.
func setReplicasAnnotations(rs *deploymentv1.ReplicaSet, desired, maxReplicas int32) bool {
	a := ensureAnnotations(rs.Metadata)
	changed := false
	if s := strconv.Itoa(int(desired)); a[DesiredReplicasAnnotation] != s {
		a[DesiredReplicasAnnotation] = s
		changed = true
	}
	if s := strconv.Itoa(int(maxReplicas)); a[MaxReplicasAnnotation] != s {
		a[MaxReplicasAnnotation] = s
		changed = true
	}
	return changed
}

// maxRevHistoryLengthInChars bounds deployment.kubernetes.io/revision-history.
const maxRevHistoryLengthInChars = 2000

// setNewReplicaSetAnnotations copies the Deployment's annotations (but the
// skipped ones) to the new ReplicaSet, raises its revision to newRevision and,
// when an existing revision is replaced, appends it to revision-history. For a
// ReplicaSet about to be created it also sets desired/max-replicas. It
// reports whether any annotation changed (Kubernetes' SetNewReplicaSetAnnotations).
func setNewReplicaSetAnnotations(d *deploymentv1.Deployment, p deploymentParams, rs *deploymentv1.ReplicaSet, newRevision int64, exists bool) bool {
	changed := false
	a := ensureAnnotations(rs.Metadata)
	for k, v := range d.GetMetadata().GetAnnotations() {
		if annotationsToSkip[k] || a[k] == v {
			continue
		}
		a[k] = v
		changed = true
	}
	oldRevision, hadRevision := a[RevisionAnnotation]
	oldRevisionInt, err := strconv.ParseInt(oldRevision, 10, 64)
	if err != nil {
		if oldRevision != "" {
			return false
		}
		oldRevisionInt = 0
	}
	if oldRevisionInt < newRevision {
		a[RevisionAnnotation] = strconv.FormatInt(newRevision, 10)
		changed = true
		if hadRevision {
			history := a[RevisionHistoryAnnotation]
			if history == "" {
				a[RevisionHistoryAnnotation] = oldRevision
			} else {
				old := strings.Split(history, ",")
				total := len(history) + len(oldRevision) + 1
				start := 0
				for total > maxRevHistoryLengthInChars && start < len(old) {
					total -= len(old[start]) + 1
					start++
				}
				if total <= maxRevHistoryLengthInChars {
					a[RevisionHistoryAnnotation] = strings.Join(append(old[start:], oldRevision), ",")
				}
			}
		}
	}
	if !exists && setReplicasAnnotations(rs, p.replicas, p.replicas+p.maxSurgeOf()) {
		changed = true
	}
	return changed
}

// setDeploymentRevision writes the Deployment's revision annotation and reports a change.
func setDeploymentRevision(d *deploymentv1.Deployment, revision string) bool {
	if d.Metadata == nil {
		d.Metadata = &corev1.ObjectMeta{}
	}
	a := ensureAnnotations(d.Metadata)
	if a[RevisionAnnotation] == revision {
		return false
	}
	a[RevisionAnnotation] = revision
	return true
}

// cloneSelectorAndAddLabel copies sel and adds key=value to its matchLabels.
func cloneSelectorAndAddLabel(sel *corev1.LabelSelector, key, value string) *corev1.LabelSelector {
	out := &corev1.LabelSelector{}
	if sel != nil {
		out = proto.Clone(sel).(*corev1.LabelSelector)
	}
	if out.MatchLabels == nil {
		out.MatchLabels = map[string]string{}
	}
	out.MatchLabels[key] = value
	return out
}

// cloneAndAddLabel copies labels and adds key=value.
func cloneAndAddLabel(labels map[string]string, key, value string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[key] = value
	return out
}
