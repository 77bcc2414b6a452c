package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/proto"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podwarden/podwarden/shared/labels"
	"github.com/podwarden/podwarden/shared/validation"

	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// MaxCronJobNameLength leaves room for the 11-character suffix of the Jobs a
// CronJob creates (Kubernetes' limit: 52).
const MaxCronJobNameLength = 52

// maxIndexedCompletions is Kubernetes' cap on completions of Indexed Jobs.
const maxIndexedCompletions = 100000

var specPath = field.NewPath("spec")

func nonneg(v int64, p *field.Path) field.ErrorList { return validation.ValidateNonnegative(v, p) }

// ValidateJob is batch's ValidateJob (create) and ValidateJobUpdate.
func ValidateJob(j, old *jobv1.Job, create bool) field.ErrorList {
	errs := validation.ValidateObjectMeta(j.GetMetadata(), true, validation.NameIsDNSSubdomain, field.NewPath("metadata"))
	s := j.GetSpec()
	sel := k8slabels.Everything()
	selPath := specPath.Child("selector")
	if s.GetSelector() == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, validation.ValidateLabelSelector(s.GetSelector(), selPath)...)
		parsed, err := labels.FromProto(s.GetSelector())
		if err != nil {
			errs = append(errs, field.Invalid(selPath, labels.String(s.GetSelector()), "invalid label selector"))
		} else if len(s.GetSelector().GetMatchLabels())+len(s.GetSelector().GetMatchExpressions()) == 0 {
			errs = append(errs, field.Invalid(selPath, labels.String(s.GetSelector()), "empty selector is invalid for job"))
		} else {
			sel = parsed
		}
	}
	errs = append(errs, validateJobSpec(s, sel, specPath)...)
	if !create && old != nil {
		errs = append(errs, validateJobUpdate(j, old)...)
	}
	return errs
}

func validateJobUpdate(j, old *jobv1.Job) field.ErrorList {
	var errs field.ErrorList
	s, o := j.GetSpec(), old.GetSpec()
	if !proto.Equal(s.GetSelector(), o.GetSelector()) {
		errs = append(errs, field.Invalid(specPath.Child("selector"), labels.String(s.GetSelector()), "field is immutable"))
	}
	if s.GetCompletionMode() != o.GetCompletionMode() {
		errs = append(errs, field.Invalid(specPath.Child("completionMode"), s.GetCompletionMode(), "field is immutable"))
	}
	if s.GetCompletions() != o.GetCompletions() && s.GetCompletionMode() != Indexed {
		errs = append(errs, field.Invalid(specPath.Child("completions"), s.GetCompletions(), "field is immutable"))
	}
	// The template may change only while the Job is suspended and has never started.
	neverStarted := o.GetSuspend() && old.GetStatus().GetStartTime() == nil
	if !neverStarted && !proto.Equal(s.GetTemplate(), o.GetTemplate()) {
		errs = append(errs, field.Invalid(specPath.Child("template"), "", "field is immutable"))
	}
	return errs
}

// validateJobSpec is batch's validateJobSpec; sel is the parsed selector the
// template labels must match (Everything for a CronJob's template).
func validateJobSpec(s *jobv1.JobSpec, sel k8slabels.Selector, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Parallelism != nil {
		errs = append(errs, nonneg(int64(s.GetParallelism()), p.Child("parallelism"))...)
	}
	if s.Completions != nil {
		errs = append(errs, nonneg(int64(s.GetCompletions()), p.Child("completions"))...)
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, nonneg(s.GetActiveDeadlineSeconds(), p.Child("activeDeadlineSeconds"))...)
	}
	if s.BackoffLimit != nil {
		errs = append(errs, nonneg(int64(s.GetBackoffLimit()), p.Child("backoffLimit"))...)
	}
	if s.TtlSecondsAfterFinished != nil {
		errs = append(errs, nonneg(int64(s.GetTtlSecondsAfterFinished()), p.Child("ttlSecondsAfterFinished"))...)
	}
	mode := s.GetCompletionMode()
	switch mode {
	case NonIndexed, Indexed, "":
	default:
		errs = append(errs, field.NotSupported(p.Child("completionMode"), mode, []string{NonIndexed, Indexed}))
	}
	if mode == Indexed {
		if s.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), fmt.Sprintf("when completion mode is %s", Indexed)))
		} else if s.GetCompletions() > maxIndexedCompletions {
			errs = append(errs, field.Invalid(p.Child("completions"), s.GetCompletions(), fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxIndexedCompletions, Indexed)))
		}
	}
	if s.BackoffLimitPerIndex != nil {
		errs = append(errs, nonneg(int64(s.GetBackoffLimitPerIndex()), p.Child("backoffLimitPerIndex"))...)
		if mode != Indexed {
			errs = append(errs, field.Invalid(p.Child("backoffLimitPerIndex"), s.GetBackoffLimitPerIndex(), "requires indexed completion mode"))
		}
	}
	if s.MaxFailedIndexes != nil && s.BackoffLimitPerIndex == nil {
		errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
	}
	t := s.GetTemplate()
	tp := p.Child("template")
	if t == nil {
		return append(errs, field.Required(tp, ""))
	}
	if s.GetSelector() != nil && !sel.Matches(k8slabels.Set(t.GetMetadata().GetLabels())) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), t.GetMetadata().GetLabels(), "`selector` does not match template `labels`"))
	}
	errs = append(errs, validation.ValidatePodTemplateSpec(t, k8slabels.Everything(), tp)...)
	errs = append(errs, validation.ValidateRestartPolicyIn(t, []string{"OnFailure", "Never"}, tp)...)
	if pfp := s.GetPodFailurePolicy(); pfp != nil {
		errs = append(errs, validatePodFailurePolicy(s, p.Child("podFailurePolicy"))...)
		if rp := t.GetSpec().GetRestartPolicy(); rp != "Never" {
			errs = append(errs, field.Invalid(tp.Child("spec", "restartPolicy"), rp, `only "Never" is supported when podFailurePolicy is specified`))
		}
	}
	return errs
}

func validatePodFailurePolicy(s *jobv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := p.Child("rules")
	actions := []string{ActionCount, ActionFailIndex, ActionFailJob, ActionIgnore}
	for i, r := range s.GetPodFailurePolicy().GetRules() {
		rp := rulesPath.Index(i)
		if !slices.Contains(actions, r.GetAction()) {
			errs = append(errs, field.NotSupported(rp.Child("action"), r.GetAction(), actions))
		}
		if r.GetAction() == ActionFailIndex && s.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Invalid(rp.Child("action"), r.GetAction(), "requires the backoffLimitPerIndex to be set"))
		}
		hasCodes, hasConds := r.GetOnExitCodes() != nil, len(r.GetOnPodConditions()) > 0
		if hasCodes == hasConds {
			errs = append(errs, field.Invalid(rp, "", "specifying one of OnExitCodes and OnPodConditions is required"))
		}
		if ec := r.GetOnExitCodes(); ec != nil {
			ep := rp.Child("onExitCodes")
			switch ec.GetOperator() {
			case "In", "NotIn":
			default:
				errs = append(errs, field.NotSupported(ep.Child("operator"), ec.GetOperator(), []string{"In", "NotIn"}))
			}
			if n := len(ec.GetValues()); n == 0 || n > 255 {
				errs = append(errs, field.Invalid(ep.Child("values"), ec.GetValues(), "at least one value is required, at most 255"))
			}
			for vi, v := range ec.GetValues() {
				if ec.GetOperator() == "In" && v == 0 {
					errs = append(errs, field.Invalid(ep.Child("values").Index(vi), v, "must not be 0 for the In operator"))
				}
				if vi > 0 && ec.GetValues()[vi-1] >= v {
					errs = append(errs, field.Invalid(ep.Child("values").Index(vi), v, "must be ordered"))
				}
			}
		}
		for ci, c := range r.GetOnPodConditions() {
			cp := rp.Child("onPodConditions").Index(ci)
			if c.GetType() == "" {
				errs = append(errs, field.Required(cp.Child("type"), ""))
			}
			if !slices.Contains([]string{"True", "False", "Unknown"}, c.GetStatus()) {
				errs = append(errs, field.NotSupported(cp.Child("status"), c.GetStatus(), []string{"True", "False", "Unknown"}))
			}
		}
	}
	return errs
}

// ParseSchedule parses a CronJob schedule (5 fields or a @descriptor) in the
// time zone tz (empty: the process's local time zone, as kube-controller-manager's; UTC
// where TZ is unset, as in the deployments' containers), with github.com/robfig/cron/v3
// as Kubernetes does.
//
// A schedule of its own may not name a time zone (robfig/cron panics on
// "TZ=UTC" without a space), and tz must be a time zone: the parser would
// otherwise split "TZ=<tz> <schedule>" at a space inside tz.
func ParseSchedule(schedule, tz string) (cron.Schedule, error) {
	if strings.Contains(schedule, "TZ") {
		return nil, errors.New(errScheduleTZ)
	}
	if tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || strings.ContainsAny(tz, " \t\n") {
			return nil, fmt.Errorf("unknown time zone %s", tz)
		}
		schedule = "TZ=" + tz + " " + schedule
	}
	return cron.ParseStandard(schedule)
}

const errScheduleTZ = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"

// ValidateCronJob is batch's ValidateCronJob (create) and ValidateCronJobUpdate.
func ValidateCronJob(c, old *jobv1.CronJob, create bool) field.ErrorList {
	mp := field.NewPath("metadata")
	errs := validation.ValidateObjectMeta(c.GetMetadata(), true, validation.NameIsDNSSubdomain, mp)
	if n := c.GetMetadata().GetName(); len(n) > MaxCronJobNameLength {
		errs = append(errs, field.Invalid(mp.Child("name"), n, fmt.Sprintf("must be no more than %d characters", MaxCronJobNameLength)))
	}
	s := c.GetSpec()
	sp := specPath.Child("schedule")
	switch {
	case s.GetSchedule() == "":
		errs = append(errs, field.Required(sp, ""))
	case strings.Contains(s.GetSchedule(), "TZ"):
		errs = append(errs, field.Invalid(sp, s.GetSchedule(), errScheduleTZ))
	default:
		if _, err := ParseSchedule(s.GetSchedule(), ""); err != nil {
			errs = append(errs, field.Invalid(sp, s.GetSchedule(), err.Error()))
		}
	}
	if s.TimeZone != nil {
		tzp := specPath.Child("timeZone")
		if tz := s.GetTimeZone(); tz == "" {
			errs = append(errs, field.Invalid(tzp, tz, "timeZone must be nil or non-empty string"))
		} else if _, err := time.LoadLocation(tz); err != nil || strings.EqualFold(tz, "Local") {
			errs = append(errs, field.Invalid(tzp, tz, "unknown time zone "+tz))
		}
	}
	switch s.GetConcurrencyPolicy() {
	case AllowConcurrent, ForbidConcurrent, ReplaceConcurrent:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("concurrencyPolicy"), s.GetConcurrencyPolicy(), []string{AllowConcurrent, ForbidConcurrent, ReplaceConcurrent}))
	}
	if s.StartingDeadlineSeconds != nil {
		errs = append(errs, nonneg(s.GetStartingDeadlineSeconds(), specPath.Child("startingDeadlineSeconds"))...)
	}
	if s.SuccessfulJobsHistoryLimit != nil {
		errs = append(errs, nonneg(int64(s.GetSuccessfulJobsHistoryLimit()), specPath.Child("successfulJobsHistoryLimit"))...)
	}
	if s.FailedJobsHistoryLimit != nil {
		errs = append(errs, nonneg(int64(s.GetFailedJobsHistoryLimit()), specPath.Child("failedJobsHistoryLimit"))...)
	}
	jt := s.GetJobTemplate()
	jp := specPath.Child("jobTemplate")
	if jt == nil || jt.GetSpec() == nil {
		errs = append(errs, field.Required(jp, ""))
	} else {
		if m := jt.GetMetadata(); m != nil {
			errs = append(errs, validation.ValidateLabels(m.GetLabels(), jp.Child("metadata", "labels"))...)
			errs = append(errs, validation.ValidateAnnotations(m.GetAnnotations(), jp.Child("metadata", "annotations"))...)
		}
		errs = append(errs, validateJobSpec(jt.GetSpec(), k8slabels.Everything(), jp.Child("spec"))...)
	}
	return errs
}
