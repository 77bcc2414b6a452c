// Package api holds the batch/v1 defaults and validation of Jobs and CronJobs,
// shared by the gRPC handlers and the CronJob controller (which creates Jobs).
package api

import (
	"maps"
	"strings"

	"github.com/google/uuid"

	"github.com/podwarden/podwarden/shared/defaults"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// Well-known labels and annotations of batch/v1.
const (
	LabelControllerUID       = "batch.kubernetes.io/controller-uid"
	LabelJobName             = "batch.kubernetes.io/job-name"
	LegacyLabelControllerUID = "controller-uid"
	LegacyLabelJobName       = "job-name"
	// LabelCompletionIndex is both a label and an annotation of Indexed Jobs' pods.
	LabelCompletionIndex = "batch.kubernetes.io/job-completion-index"
	// EnvCompletionIndex is the environment variable holding a pod's index.
	EnvCompletionIndex = "JOB_COMPLETION_INDEX"
	// AnnotationScheduledTimestamp is set on Jobs created by a CronJob schedule.
	AnnotationScheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp"
	// AnnotationInstantiate marks a Job created by hand from a CronJob ("manual").
	AnnotationInstantiate = "cronjob.kubernetes.io/instantiate"
)

// Completion modes, concurrency policies and pod failure policy actions.
const (
	NonIndexed = "NonIndexed"
	Indexed    = "Indexed"

	AllowConcurrent   = "Allow"
	ForbidConcurrent  = "Forbid"
	ReplaceConcurrent = "Replace"

	ActionFailJob   = "FailJob"
	ActionFailIndex = "FailIndex"
	ActionIgnore    = "Ignore"
	ActionCount     = "Count"
)

func int32p(v int32) *int32 { return &v }
func boolp(v bool) *bool    { return &v }
func strp(v string) *string { return &v }

// DefaultJob applies batch/v1 SetDefaults_Job plus the API server's generated
// selector: parallelism and completions (both unset -> 1/1), backoffLimit 6
// (MaxInt32 with backoffLimitPerIndex), completionMode NonIndexed, suspend
// false, manualSelector false, podReplacementPolicy (Failed with a
// podFailurePolicy, else TerminatingOrFailed) and, unless manualSelector, the
// selector batch.kubernetes.io/controller-uid=<uid> with the controller-uid and
// job-name labels (new and legacy) on the template. A new Job gets its uid here
// so that the selector can name it.
func DefaultJob(j *jobv1.Job) {
	if j.Metadata == nil {
		j.Metadata = &corev1.ObjectMeta{}
	}
	if j.Spec == nil {
		j.Spec = &jobv1.JobSpec{}
	}
	defaultJobSpec(j.Spec)
	if j.Metadata.Uid == "" {
		j.Metadata.Uid = uuid.NewString()
	}
	GenerateSelector(j.Metadata, j.Spec)
	// batch/v1's SetDefaults_Job: a Job without labels gets its template's. kube-apiserver
	// defaults a Job again each time it decodes it from storage, after generateSelector
	// labelled the template, so `kubectl describe job pi` lists the controller-uid and
	// job-name labels.
	if len(j.Metadata.Labels) == 0 && len(j.Spec.GetTemplate().GetMetadata().GetLabels()) > 0 {
		j.Metadata.Labels = maps.Clone(j.Spec.Template.Metadata.Labels)
	}
}

func defaultJobSpec(s *jobv1.JobSpec) {
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions, s.Parallelism = int32p(1), int32p(1)
	}
	if s.Parallelism == nil {
		s.Parallelism = int32p(1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = int32p(1<<31 - 1)
		} else {
			s.BackoffLimit = int32p(6)
		}
	}
	if s.CompletionMode == nil {
		s.CompletionMode = strp(NonIndexed)
	}
	if s.Suspend == nil {
		s.Suspend = boolp(false)
	}
	if s.ManualSelector == nil {
		s.ManualSelector = boolp(false)
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = strp("Failed")
		} else {
			s.PodReplacementPolicy = strp("TerminatingOrFailed")
		}
	}
	for _, r := range s.GetPodFailurePolicy().GetRules() {
		for _, p := range r.GetOnPodConditions() {
			if p.Status == "" {
				p.Status = "True"
			}
		}
	}
	if s.Template == nil {
		s.Template = &corev1.PodTemplateSpec{}
	}
	defaults.DefaultPodTemplateSpec(s.Template)
}

// GenerateSelector is the API server's generateSelector for Jobs without
// manualSelector: the template gets the controller-uid and job-name labels and,
// when unset, the selector is set to match the uid.
func GenerateSelector(m *corev1.ObjectMeta, s *jobv1.JobSpec) {
	if s.GetManualSelector() {
		return
	}
	t := s.Template
	if t.Metadata == nil {
		t.Metadata = &corev1.ObjectMeta{}
	}
	if t.Metadata.Labels == nil {
		t.Metadata.Labels = map[string]string{}
	}
	l := t.Metadata.Labels
	for k, v := range map[string]string{
		LabelControllerUID: m.Uid, LegacyLabelControllerUID: m.Uid,
		LabelJobName: m.Name, LegacyLabelJobName: m.Name,
	} {
		if _, ok := l[k]; !ok {
			l[k] = v
		}
	}
	if s.Selector == nil {
		s.Selector = &corev1.LabelSelector{MatchLabels: map[string]string{LabelControllerUID: m.Uid}}
	}
}

// DefaultCronJob applies batch/v1 SetDefaults_CronJob: concurrencyPolicy
// Allow, suspend false, history limits 3 successful / 1 failed, and the Job
// template's defaults (no selector: each Job gets its own).
func DefaultCronJob(c *jobv1.CronJob) {
	if c.Spec == nil {
		c.Spec = &jobv1.CronJobSpec{}
	}
	s := c.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = AllowConcurrent
	}
	if s.Suspend == nil {
		s.Suspend = boolp(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = int32p(3)
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = int32p(1)
	}
	if s.JobTemplate == nil {
		s.JobTemplate = &jobv1.JobTemplateSpec{}
	}
	if s.JobTemplate.Spec == nil {
		s.JobTemplate.Spec = &jobv1.JobSpec{}
	}
	defaultJobSpec(s.JobTemplate.Spec)
}

// IsV1beta1 reports an apiVersion batch/v1beta1 (served by Kubernetes until 1.25).
func IsV1beta1(apiVersion string) bool { return strings.EqualFold(apiVersion, "batch/v1beta1") }
