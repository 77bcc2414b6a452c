package reconcile

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// Job condition types and reasons (batch/v1).
const (
	CondSuspended          = "Suspended"
	CondComplete           = "Complete"
	CondFailed             = "Failed"
	CondFailureTarget      = "FailureTarget"
	CondSuccessCriteriaMet = "SuccessCriteriaMet"

	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	ReasonPodFailurePolicy     = "PodFailurePolicy"
	ReasonCompletionsReached   = "CompletionsReached"
	ReasonJobSuspended         = "JobSuspended"
	ReasonJobResumed           = "JobResumed"

	MsgBackoffLimitExceeded = "Job has reached the specified backoff limit"
	MsgDeadlineExceeded     = "Job was active longer than specified deadline"
	MsgCompletionsReached   = "Reached expected number of succeeded pods"
)

// Condition returns the condition of type t, or nil.
func Condition(st *jobv1.JobStatus, t string) *corev1.Condition {
	for _, c := range st.GetConditions() {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

// HasTrue reports a condition of type t with status True.
func HasTrue(st *jobv1.JobStatus, t string) bool {
	c := Condition(st, t)
	return c != nil && c.GetStatus() == "True"
}

// IsFinished reports a Job with a Complete or Failed condition.
func IsFinished(j *jobv1.Job) bool {
	return HasTrue(j.GetStatus(), CondComplete) || HasTrue(j.GetStatus(), CondFailed)
}

// FinishedAt is when the Job finished (its Complete/Failed condition's transition).
func FinishedAt(j *jobv1.Job) (time.Time, bool) {
	for _, t := range []string{CondComplete, CondFailed} {
		if c := Condition(j.GetStatus(), t); c != nil && c.GetStatus() == "True" && c.GetLastTransitionTime() != nil {
			return c.GetLastTransitionTime().AsTime(), true
		}
	}
	return time.Time{}, false
}

// setCondition sets a condition, moving lastTransitionTime only when status changes.
func setCondition(st *jobv1.JobStatus, t, status, reason, msg string, now time.Time) bool {
	ts := timestamppb.New(now.Truncate(time.Second))
	if c := Condition(st, t); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == msg {
			return false
		}
		if c.Status != status {
			c.LastTransitionTime = ts
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, msg, ts
		return true
	}
	st.Conditions = append(st.Conditions, &corev1.Condition{Type: t, Status: status, Reason: reason, Message: msg,
		LastProbeTime: ts, LastTransitionTime: ts})
	return true
}
