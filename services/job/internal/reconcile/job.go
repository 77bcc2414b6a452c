package reconcile

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/job/internal/api"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// AnnotationCounted is an internal annotation of the job service's pod view:
// the pod's outcome has been added to the Job's status (Succeeded, Failed or
// Ignored), so it is counted once even after the pod is gone. It plays the part
// of Kubernetes' job tracking finalizer and uncountedTerminatedPods.
const AnnotationCounted = "podwarden.io/job-counted"

// Pod outcomes recorded in AnnotationCounted.
const (
	CountedSucceeded = "Succeeded"
	CountedFailed    = "Failed"
	CountedIgnored   = "Ignored"
)

// Event is a Kubernetes event about the Job.
type Event struct{ Type, Reason, Message string }

// JobPlan is what a Job sync does.
type JobPlan struct {
	// Create are new pods (with names); Delete are pods to delete.
	Create []*corev1.Pod
	Delete []*corev1.Pod
	// Counted are pods of the view whose outcome was just counted (AnnotationCounted set).
	Counted []*corev1.Pod
	// Status is the new status.
	Status *jobv1.JobStatus
	// Events to record, in order: SuccessfulCreate for each pod created first,
	// SuccessfulDelete for each pod deleted, then the Job's own.
	Events []Event
	// RequeueAfter: sync again after this long (back-off, deadline, TTL).
	RequeueAfter time.Duration
	// DeleteJob: ttlSecondsAfterFinished has passed; delete the Job and its pods.
	DeleteJob bool
}

// JobPlanner plans Jobs. Name generates a pod name from a prefix ("pi-").
type JobPlanner struct {
	BackOff BackOff
	Name    func(prefix string) string
}

func (p *JobPlan) requeue(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if p.RequeueAfter == 0 || d < p.RequeueAfter {
		p.RequeueAfter = d
	}
}

type podClass struct {
	active, terminating, terminal []*corev1.Pod
}

func classify(pods []*corev1.Pod) podClass {
	var c podClass
	for _, p := range pods {
		switch {
		case podutil.IsPodTerminal(p):
			c.terminal = append(c.terminal, p)
		case p.GetMetadata().GetDeletionTimestamp() != nil:
			c.terminating = append(c.terminating, p)
		default:
			c.active = append(c.active, p)
		}
	}
	return c
}

func counted(p *corev1.Pod) string { return p.GetMetadata().GetAnnotations()[AnnotationCounted] }

func markCounted(p *corev1.Pod, outcome string) *corev1.Pod {
	c := proto.Clone(p).(*corev1.Pod)
	if c.Metadata.Annotations == nil {
		c.Metadata.Annotations = map[string]string{}
	}
	c.Metadata.Annotations[AnnotationCounted] = outcome
	return c
}

// PodIndex is a pod's completion index (-1 when it has none).
func PodIndex(p *corev1.Pod) int32 {
	v, ok := p.GetMetadata().GetAnnotations()[api.LabelCompletionIndex]
	if !ok {
		v, ok = p.GetMetadata().GetLabels()[api.LabelCompletionIndex]
	}
	if !ok {
		return -1
	}
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil || i < 0 {
		return -1
	}
	return int32(i)
}

// finishTime is when a terminal pod's last container finished.
func finishTime(p *corev1.Pod) time.Time {
	var t time.Time
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if f := cs.GetState().GetTerminated().GetFinishedAt(); f != nil && f.AsTime().After(t) {
			t = f.AsTime()
		}
	}
	if t.IsZero() && p.GetStatus().GetStartTime() != nil {
		t = p.GetStatus().GetStartTime().AsTime()
	}
	return t
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, cs := range p.GetStatus().GetInitContainerStatuses() {
		n += cs.GetRestartCount()
	}
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		n += cs.GetRestartCount()
	}
	return n
}

// Plan is syncJob on stored state: count finished pods, decide whether the Job
// failed (pod failure policy FailJob, then activeDeadlineSeconds, then the
// back-off limit: the deadline takes precedence, as documented) or succeeded,
// and otherwise keep min(parallelism, remaining completions) pods active,
// replacing failed ones after the back-off.
func (jp JobPlanner) Plan(j *jobv1.Job, pods []*corev1.Pod, now time.Time) JobPlan {
	st := proto.Clone(j.GetStatus()).(*jobv1.JobStatus)
	if st == nil {
		st = &jobv1.JobStatus{}
	}
	plan := JobPlan{Status: st}
	s := j.GetSpec()
	c := classify(pods)
	indexed := s.GetCompletionMode() == api.Indexed
	completions := s.GetCompletions()
	done := parseIndexes(st.GetCompletedIndexes(), completions)

	// 1. Count pods that finished since the last sync.
	var failJob string
	for ti, p := range c.terminal {
		if counted(p) != "" {
			continue
		}
		outcome := CountedSucceeded
		if p.GetStatus().GetPhase() == podutil.PodFailed {
			outcome = CountedFailed
			if action, msg := matchPodFailurePolicy(s.GetPodFailurePolicy(), p); action == api.ActionIgnore {
				outcome = CountedIgnored
			} else if action == api.ActionFailJob && failJob == "" {
				failJob = msg
			}
		}
		switch outcome {
		case CountedSucceeded:
			if indexed {
				if i := PodIndex(p); i >= 0 && i < completions {
					done[i] = true
				}
			} else {
				st.Succeeded++
			}
		case CountedFailed:
			st.Failed++
		}
		c.terminal[ti] = markCounted(p, outcome)
		plan.Counted = append(plan.Counted, c.terminal[ti])
	}
	if indexed {
		st.CompletedIndexes = formatIndexes(done)
		st.Succeeded = int32(len(done))
	}

	finishing := HasTrue(st, CondFailureTarget) || HasTrue(st, CondSuccessCriteriaMet)
	if !IsFinished(j) && !finishing {
		jp.decide(j, st, &plan, c, done, failJob, now)
		finishing = HasTrue(st, CondFailureTarget) || HasTrue(st, CondSuccessCriteriaMet)
	}
	if finishing && !IsFinished(&jobv1.Job{Status: st}) {
		jp.finish(st, &plan, c, now)
	}
	jp.status(st, &plan, c)
	if IsFinished(&jobv1.Job{Status: st}) {
		jp.ttl(j, st, &plan, now)
	}
	if len(plan.Create) > 0 {
		// Kubernetes' pod control records SuccessfulCreate for each pod first.
		events := make([]Event, 0, len(plan.Create)+len(plan.Events))
		for _, p := range plan.Create {
			events = append(events, Event{"Normal", "SuccessfulCreate", "Created pod: " + p.GetMetadata().GetName()})
		}
		plan.Events = append(events, plan.Events...)
	}
	return plan
}

// decide runs the checks of an unfinished Job and plans its pods.
func (jp JobPlanner) decide(j *jobv1.Job, st *jobv1.JobStatus, plan *JobPlan, c podClass, done map[int32]bool, failJob string, now time.Time) {
	s := j.GetSpec()
	if s.GetSuspend() {
		if setCondition(st, CondSuspended, "True", ReasonJobSuspended, "Job suspended", now) {
			plan.Events = append(plan.Events, Event{"Normal", "Suspended", "Job suspended"})
		}
		// A suspended Job's active pods are deleted; their time does not count.
		for _, p := range c.active {
			plan.deletePod(p)
		}
		return
	}
	if c := Condition(st, CondSuspended); c != nil && c.GetStatus() == "True" {
		setCondition(st, CondSuspended, "False", ReasonJobResumed, "Job resumed", now)
		plan.Events = append(plan.Events, Event{"Normal", "Resumed", "Job resumed"})
		st.StartTime = timestamppb.New(now.Truncate(time.Second))
	}
	if st.StartTime == nil {
		st.StartTime = timestamppb.New(now.Truncate(time.Second))
	}

	// 2. Failure: pod failure policy, then the deadline, then the back-off limit.
	reason, msg := "", ""
	deadlineAt := time.Time{}
	if ads := s.ActiveDeadlineSeconds; ads != nil {
		deadlineAt = st.GetStartTime().AsTime().Add(time.Duration(*ads) * time.Second)
	}
	switch {
	case failJob != "":
		reason, msg = ReasonPodFailurePolicy, failJob
	case !deadlineAt.IsZero() && !now.Before(deadlineAt):
		reason, msg = ReasonDeadlineExceeded, MsgDeadlineExceeded
	case st.GetFailed() > s.GetBackoffLimit() || pastBackoffLimitOnFailure(s, c.active):
		reason, msg = ReasonBackoffLimitExceeded, MsgBackoffLimitExceeded
	}
	if reason != "" {
		setCondition(st, CondFailureTarget, "True", reason, msg, now)
		// Active pods of a failing Job are deleted and count as failed.
		for _, p := range c.active {
			plan.deletePod(p)
			st.Failed++
			plan.Counted = append(plan.Counted, markCounted(p, CountedFailed))
		}
		return
	}
	if !deadlineAt.IsZero() {
		plan.requeue(deadlineAt.Sub(now))
	}

	// 3. Success.
	succeeded := false
	switch {
	case s.GetCompletionMode() == api.Indexed:
		succeeded = int32(len(done)) >= s.GetCompletions()
	case s.Completions == nil:
		// Work-queue Job: done once a pod succeeded and none is left running.
		succeeded = st.GetSucceeded() > 0 && len(c.active) == 0
	default:
		succeeded = st.GetSucceeded() >= s.GetCompletions()
	}
	if succeeded {
		setCondition(st, CondSuccessCriteriaMet, "True", ReasonCompletionsReached, MsgCompletionsReached, now)
		for _, p := range c.active {
			plan.deletePod(p)
		}
		return
	}

	// 4. Pods.
	if s.GetCompletionMode() == api.Indexed {
		jp.manageIndexed(j, plan, c, done, now)
	} else {
		jp.manageNonIndexed(j, st, plan, c, now)
	}
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure failures are container
// restarts; the Job fails when the active pods' restarts reach backoffLimit.
func pastBackoffLimitOnFailure(s *jobv1.JobSpec, active []*corev1.Pod) bool {
	if s.GetTemplate().GetSpec().GetRestartPolicy() != "OnFailure" {
		return false
	}
	var n int32
	for _, p := range active {
		n += restarts(p)
	}
	if s.GetBackoffLimit() == 0 {
		return n > 0
	}
	return n >= s.GetBackoffLimit()
}

// backOffRemaining is how long pod creation still waits after the latest run
// of failures (counted since the last success).
func (jp JobPlanner) backOffRemaining(terminal []*corev1.Pod, now time.Time) time.Duration {
	var lastSuccess, lastFailure time.Time
	for _, p := range terminal {
		if p.GetStatus().GetPhase() == podutil.PodSucceeded {
			if t := finishTime(p); t.After(lastSuccess) {
				lastSuccess = t
			}
		}
	}
	n := 0
	for _, p := range terminal {
		if p.GetStatus().GetPhase() != podutil.PodFailed || counted(p) == CountedIgnored {
			continue
		}
		t := finishTime(p)
		if t.Before(lastSuccess) {
			continue
		}
		n++
		if t.After(lastFailure) {
			lastFailure = t
		}
	}
	if n == 0 {
		return 0
	}
	return jp.BackOff.Delay(n) - now.Sub(lastFailure)
}

func (jp JobPlanner) manageNonIndexed(j *jobv1.Job, st *jobv1.JobStatus, plan *JobPlan, c podClass, now time.Time) {
	s := j.GetSpec()
	want := s.GetParallelism()
	if s.Completions != nil {
		want = min(want, s.GetCompletions()-st.GetSucceeded())
	} else if st.GetSucceeded() > 0 {
		// Work queue: once one pod succeeded no new pods start.
		want = min(want, int32(len(c.active)))
	}
	want = max(want, 0)
	active := int32(len(c.active))
	if active > want {
		for _, p := range deletionOrder(c.active)[:active-want] {
			plan.deletePod(p)
		}
		return
	}
	if active == want {
		return
	}
	if wait := jp.backOffRemaining(c.terminal, now); wait > 0 {
		plan.requeue(wait)
		return
	}
	for range want - active {
		plan.Create = append(plan.Create, jp.newPod(j, -1))
	}
}

func (jp JobPlanner) manageIndexed(j *jobv1.Job, plan *JobPlan, c podClass, done map[int32]bool, now time.Time) {
	s := j.GetSpec()
	byIndex := map[int32][]*corev1.Pod{}
	var keep []*corev1.Pod
	for _, p := range c.active {
		i := PodIndex(p)
		if i < 0 || i >= s.GetCompletions() || done[i] || len(byIndex[i]) > 0 {
			plan.deletePod(p) // no index, out of range, already done, or a duplicate
			continue
		}
		byIndex[i] = append(byIndex[i], p)
		keep = append(keep, p)
	}
	par := s.GetParallelism()
	if int32(len(keep)) > par {
		sort.Slice(keep, func(a, b int) bool { return PodIndex(keep[a]) > PodIndex(keep[b]) })
		for _, p := range keep[:int32(len(keep))-par] {
			plan.deletePod(p)
		}
		return
	}
	room := par - int32(len(keep))
	if room == 0 {
		return
	}
	if wait := jp.backOffRemaining(c.terminal, now); wait > 0 {
		plan.requeue(wait)
		return
	}
	for i := int32(0); i < s.GetCompletions() && room > 0; i++ {
		if done[i] || len(byIndex[i]) > 0 {
			continue
		}
		plan.Create = append(plan.Create, jp.newPod(j, i))
		room--
	}
}

// deletionOrder ranks pods to delete first: unscheduled, not ready, newest.
func deletionOrder(pods []*corev1.Pod) []*corev1.Pod {
	out := slices.Clone(pods)
	sort.SliceStable(out, func(a, b int) bool {
		pa, pb := out[a], out[b]
		if (pa.GetSpec().GetNodeName() == "") != (pb.GetSpec().GetNodeName() == "") {
			return pa.GetSpec().GetNodeName() == ""
		}
		if podutil.IsPodReady(pa) != podutil.IsPodReady(pb) {
			return !podutil.IsPodReady(pa)
		}
		return pa.GetMetadata().GetCreationTimestamp().AsTime().After(pb.GetMetadata().GetCreationTimestamp().AsTime())
	})
	return out
}

func (p *JobPlan) deletePod(pod *corev1.Pod) {
	p.Delete = append(p.Delete, pod)
	p.Events = append(p.Events, Event{"Normal", "SuccessfulDelete", "Deleted pod: " + pod.GetMetadata().GetName()})
}

// finish waits for a failing or succeeding Job's pods to stop, then writes the
// terminal condition (Failed or Complete).
func (jp JobPlanner) finish(st *jobv1.JobStatus, plan *JobPlan, c podClass, now time.Time) {
	left := len(c.terminating)
	for _, p := range c.active {
		if !slices.Contains(plan.Delete, p) {
			plan.deletePod(p)
		}
		left++
	}
	if left > 0 {
		return
	}
	if ft := Condition(st, CondFailureTarget); ft != nil && ft.GetStatus() == "True" {
		setCondition(st, CondFailed, "True", ft.GetReason(), ft.GetMessage(), now)
		plan.Events = append(plan.Events, Event{"Warning", ft.GetReason(), ft.GetMessage()})
		return
	}
	sc := Condition(st, CondSuccessCriteriaMet)
	setCondition(st, CondComplete, "True", sc.GetReason(), sc.GetMessage(), now)
	st.CompletionTime = timestamppb.New(now.Truncate(time.Second))
	plan.Events = append(plan.Events, Event{"Normal", "Completed", "Job completed"})
}

// status fills the pod counts after the plan's creates and deletes.
func (jp JobPlanner) status(st *jobv1.JobStatus, plan *JobPlan, c podClass) {
	var active, ready int32
	terminating := int32(len(c.terminating))
	for _, p := range c.active {
		if slices.Contains(plan.Delete, p) {
			terminating++
			continue
		}
		active++
		if podutil.IsPodReady(p) {
			ready++
		}
	}
	st.Active = active + int32(len(plan.Create))
	st.Ready = &ready
	st.Terminating = &terminating
}

// ttl deletes a finished Job ttlSecondsAfterFinished after it finished.
func (jp JobPlanner) ttl(j *jobv1.Job, st *jobv1.JobStatus, plan *JobPlan, now time.Time) {
	ttl := j.GetSpec().TtlSecondsAfterFinished
	if ttl == nil {
		return
	}
	at, ok := FinishedAt(&jobv1.Job{Status: st})
	if !ok {
		return
	}
	expire := at.Add(jp.BackOff.scaleTTL(time.Duration(*ttl) * time.Second))
	if !now.Before(expire) {
		plan.DeleteJob = true
		return
	}
	plan.requeue(expire.Sub(now))
}

// scaleTTL applies the same speed-up as the back-off (Base relative to 10 s).
func (b BackOff) scaleTTL(d time.Duration) time.Duration {
	if b.Base <= 0 || b.Base == DefaultBackOff.Base {
		return d
	}
	return time.Duration(float64(d) * float64(b.Base) / float64(DefaultBackOff.Base))
}

// newPod stamps a pod from the Job's template (index >= 0 for Indexed Jobs).
func (jp JobPlanner) newPod(j *jobv1.Job, index int32) *corev1.Pod {
	m := j.GetMetadata()
	t := j.GetSpec().GetTemplate()
	prefix := m.GetName() + "-"
	if index >= 0 {
		prefix = fmt.Sprintf("%s-%d-", m.GetName(), index)
	}
	labels := map[string]string{}
	for k, v := range t.GetMetadata().GetLabels() {
		labels[k] = v
	}
	var ann map[string]string
	if a := t.GetMetadata().GetAnnotations(); len(a) > 0 || index >= 0 {
		ann = map[string]string{}
		for k, v := range a {
			ann[k] = v
		}
	}
	spec := proto.Clone(t.GetSpec()).(*corev1.PodSpec)
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	if index >= 0 {
		is := strconv.Itoa(int(index))
		labels[api.LabelCompletionIndex] = is
		ann[api.LabelCompletionIndex] = is
		if spec.Hostname == "" {
			spec.Hostname = fmt.Sprintf("%s-%d", m.GetName(), index)
		}
		for _, list := range [][]*corev1.Container{spec.InitContainers, spec.Containers} {
			for _, c := range list {
				if !slices.ContainsFunc(c.Env, func(e *corev1.EnvVar) bool { return e.GetName() == api.EnvCompletionIndex }) {
					c.Env = append(c.Env, &corev1.EnvVar{Name: api.EnvCompletionIndex, Value: is})
				}
			}
		}
	}
	name := prefix
	if jp.Name != nil {
		name = jp.Name(prefix)
	}
	return &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &corev1.ObjectMeta{
			Name: name, GenerateName: prefix, Namespace: m.GetNamespace(), Labels: labels, Annotations: ann,
			OwnerReferences: []*corev1.OwnerReference{podutil.NewControllerRef(m, "batch/v1", "Job")},
		},
		Spec: spec,
	}
}

// matchPodFailurePolicy returns the action of the first rule matching a failed
// pod ("" when none matches: the failure counts) and, for FailJob, the message.
func matchPodFailurePolicy(pfp *jobv1.PodFailurePolicy, p *corev1.Pod) (string, string) {
	for i, r := range pfp.GetRules() {
		if ec := r.GetOnExitCodes(); ec != nil {
			for _, cs := range append(slices.Clone(p.GetStatus().GetInitContainerStatuses()), p.GetStatus().GetContainerStatuses()...) {
				t := cs.GetState().GetTerminated()
				if t == nil || t.GetExitCode() == 0 || (ec.ContainerName != nil && ec.GetContainerName() != cs.GetName()) {
					continue
				}
				in := slices.Contains(ec.GetValues(), t.GetExitCode())
				if (ec.GetOperator() == "In") == in {
					return r.GetAction(), fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
						cs.GetName(), p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), t.GetExitCode(), r.GetAction(), i)
				}
			}
		}
		for _, pat := range r.GetOnPodConditions() {
			for _, c := range p.GetStatus().GetConditions() {
				if c.GetType() == pat.GetType() && c.GetStatus() == pat.GetStatus() {
					return r.GetAction(), fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d",
						p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), c.GetType(), r.GetAction(), i)
				}
			}
		}
	}
	return "", ""
}
