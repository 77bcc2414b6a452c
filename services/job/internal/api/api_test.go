package api

import (
	"maps"
	"strings"
	"testing"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

func baseJob() *jobv1.Job {
	return &jobv1.Job{Metadata: &corev1.ObjectMeta{Name: "pi", Namespace: "default"}, Spec: &jobv1.JobSpec{
		Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{RestartPolicy: "Never", Containers: []*corev1.Container{{Name: "c", Image: "perl"}}}}}}
}

func TestDefaultJob(t *testing.T) {
	j := baseJob()
	DefaultJob(j)
	s := j.Spec
	if s.GetCompletions() != 1 || s.GetParallelism() != 1 || s.GetBackoffLimit() != 6 || s.GetCompletionMode() != NonIndexed ||
		s.GetSuspend() || s.GetManualSelector() || s.GetPodReplacementPolicy() != "TerminatingOrFailed" {
		t.Errorf("defaults: %v", s)
	}
	uid := j.Metadata.Uid
	if uid == "" || s.Selector.MatchLabels[LabelControllerUID] != uid {
		t.Errorf("selector %v for uid %q", s.Selector, uid)
	}
	l := s.Template.Metadata.Labels
	if l[LabelControllerUID] != uid || l[LabelJobName] != "pi" || l[LegacyLabelControllerUID] != uid || l[LegacyLabelJobName] != "pi" {
		t.Errorf("template labels %v", l)
	}
	if !maps.Equal(j.Metadata.Labels, l) {
		t.Errorf("a job without labels gets its template's: %v, want %v", j.Metadata.Labels, l)
	}
	labelled := baseJob()
	labelled.Metadata.Labels = map[string]string{"app": "pi"}
	DefaultJob(labelled)
	if !maps.Equal(labelled.Metadata.Labels, map[string]string{"app": "pi"}) {
		t.Errorf("a job's own labels were changed: %v", labelled.Metadata.Labels)
	}
	if errs := ValidateJob(j, nil, true); len(errs) != 0 {
		t.Errorf("defaulted job invalid: %v", errs)
	}
	wq := baseJob()
	p := int32(3)
	wq.Spec.Parallelism = &p
	DefaultJob(wq)
	if wq.Spec.Completions != nil || wq.Spec.GetParallelism() != 3 {
		t.Errorf("work queue: completions %v parallelism %v", wq.Spec.Completions, wq.Spec.GetParallelism())
	}
}

func TestValidateJob(t *testing.T) {
	neg := int32(-1)
	idx := Indexed
	cases := map[string]struct {
		mod   func(*jobv1.Job)
		field string
	}{
		"restartPolicy Always":  {mod: func(j *jobv1.Job) { j.Spec.Template.Spec.RestartPolicy = "Always" }, field: "spec.template.spec.restartPolicy"},
		"negative completions":  {mod: func(j *jobv1.Job) { j.Spec.Completions = &neg }, field: "spec.completions"},
		"negative parallelism":  {mod: func(j *jobv1.Job) { j.Spec.Parallelism = &neg }, field: "spec.parallelism"},
		"negative backoffLimit": {mod: func(j *jobv1.Job) { j.Spec.BackoffLimit = &neg }, field: "spec.backoffLimit"},
		"negative ttl":          {mod: func(j *jobv1.Job) { j.Spec.TtlSecondsAfterFinished = &neg }, field: "spec.ttlSecondsAfterFinished"},
		"indexed without completions": {mod: func(j *jobv1.Job) {
			j.Spec.CompletionMode = &idx
			j.Spec.Completions = nil
			p := int32(1)
			j.Spec.Parallelism = &p
		},
			field: "spec.completions"},
		"podFailurePolicy with OnFailure": {mod: func(j *jobv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = "OnFailure"
			j.Spec.PodFailurePolicy = &jobv1.PodFailurePolicy{Rules: []*jobv1.PodFailurePolicyRule{{Action: ActionFailJob,
				OnExitCodes: &jobv1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{42}}}}}
		}, field: "spec.template.spec.restartPolicy"},
		"selector must match the template": {mod: func(j *jobv1.Job) {
			j.Spec.ManualSelector = new(bool)
			*j.Spec.ManualSelector = true
			j.Spec.Selector = &corev1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, field: "spec.template.metadata.labels"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			j := baseJob()
			tc.mod(j)
			DefaultJob(j)
			errs := ValidateJob(j, nil, true)
			if !strings.Contains(errs.ToAggregate().Error(), tc.field) {
				t.Errorf("errors %v do not name %s", errs, tc.field)
			}
		})
	}
}

func TestValidateCronJob(t *testing.T) {
	base := func() *jobv1.CronJob {
		return &jobv1.CronJob{Metadata: &corev1.ObjectMeta{Name: "hello", Namespace: "default"}, Spec: &jobv1.CronJobSpec{Schedule: "*/1 * * * *",
			JobTemplate: &jobv1.JobTemplateSpec{Spec: &jobv1.JobSpec{Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{RestartPolicy: "OnFailure",
				Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}}}}}
	}
	cj := base()
	DefaultCronJob(cj)
	if cj.Spec.ConcurrencyPolicy != AllowConcurrent || cj.Spec.GetSuccessfulJobsHistoryLimit() != 3 || cj.Spec.GetFailedJobsHistoryLimit() != 1 || cj.Spec.GetSuspend() {
		t.Errorf("defaults %v", cj.Spec)
	}
	if errs := ValidateCronJob(cj, nil, true); len(errs) != 0 {
		t.Errorf("valid cronjob rejected: %v", errs)
	}
	tz := func(s string) *string { return &s }
	cases := map[string]struct {
		mod   func(*jobv1.CronJob)
		field string
	}{
		"61-minute schedule":   {mod: func(c *jobv1.CronJob) { c.Spec.Schedule = "61 * * * *" }, field: "spec.schedule"},
		"TZ in schedule":       {mod: func(c *jobv1.CronJob) { c.Spec.Schedule = "TZ=UTC * * * * *" }, field: "spec.schedule"},
		"name over 52":         {mod: func(c *jobv1.CronJob) { c.Metadata.Name = strings.Repeat("a", 53) }, field: "metadata.name"},
		"unknown time zone":    {mod: func(c *jobv1.CronJob) { c.Spec.TimeZone = tz("Mars/Olympus") }, field: "spec.timeZone"},
		"bad policy":           {mod: func(c *jobv1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" }, field: "spec.concurrencyPolicy"},
		"restartPolicy Always": {mod: func(c *jobv1.CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "Always" }, field: "spec.jobTemplate.spec.template.spec.restartPolicy"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := base()
			tc.mod(c)
			DefaultCronJob(c)
			if errs := ValidateCronJob(c, nil, true); !strings.Contains(errs.ToAggregate().Error(), tc.field) {
				t.Errorf("errors %v do not name %s", errs, tc.field)
			}
		})
	}
	for _, s := range []string{"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "0 9 * * 1-5"} {
		c := base()
		c.Spec.Schedule = s
		DefaultCronJob(c)
		if errs := ValidateCronJob(c, nil, true); len(errs) != 0 {
			t.Errorf("%q rejected: %v", s, errs)
		}
	}
}
