package reconcile

import (
	"fmt"
	"sort"
	"time"

	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/job/internal/api"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// TooManyMissed is the number of missed start times above which a CronJob gets
// a TooManyMissedTimes warning (Kubernetes: 100).
const TooManyMissed = 100

// nextScheduleDelta is added to requeues so the sync lands just after the
// scheduled second (Kubernetes: 100ms).
const nextScheduleDelta = 100 * time.Millisecond

// CronPlan is what a CronJob sync does.
type CronPlan struct {
	// Create is a Job to create (already named <cronjob>-<scheduled unix minutes>).
	Create *jobv1.Job
	// Delete are Jobs to delete (Replace policy, history limits).
	Delete []*jobv1.Job
	Status *jobv1.CronJobStatus
	Events []Event
	// RequeueAfter: sync again after this long (0: only a change moves it on).
	RequeueAfter time.Duration
}

// JobName is the name of the Job of a scheduled time: <cronjob>-<unix minutes>,
// deterministic so a restarted controller cannot start the same run twice.
func JobName(cronJob string, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cronJob, scheduled.Unix()/60)
}

// MostRecentScheduleTime is the latest schedule time in (earliest, now], with
// the number of schedule times in that interval; ok is false when there is none.
// earliest is lastScheduleTime (else creationTimestamp), moved up to
// now-startingDeadlineSeconds when that is later.
func MostRecentScheduleTime(cj *jobv1.CronJob, now time.Time, sched cron.Schedule) (t time.Time, missed int, ok bool) {
	earliest := cj.GetMetadata().GetCreationTimestamp().AsTime()
	if lst := cj.GetStatus().GetLastScheduleTime(); lst != nil {
		earliest = lst.AsTime()
	}
	if sds := cj.GetSpec().StartingDeadlineSeconds; sds != nil {
		if d := now.Add(-time.Duration(*sds) * time.Second); d.After(earliest) {
			earliest = d
		}
	}
	// Bounded: a schedule that fires every minute over ten years is ~5M steps;
	// beyond a million the count saturates (the warning is the same).
	for next := sched.Next(earliest); !next.IsZero() && !next.After(now) && missed < 1_000_000; next = sched.Next(next) {
		t, ok = next, true
		missed++
	}
	return t, missed, ok
}

// Location is the CronJob's time zone (UTC when unset).
func Location(cj *jobv1.CronJob) (*time.Location, error) {
	if tz := cj.GetSpec().TimeZone; tz != nil {
		return time.LoadLocation(*tz)
	}
	return time.UTC, nil
}

// PlanCronJob is syncCronJob on stored state: refresh status.active and
// lastSuccessfulTime from the owned Jobs, trim the history, and start the Job
// of the most recent unmet schedule time (only the latest missed one) unless
// suspended, too late (startingDeadlineSeconds), already started, or forbidden
// by the concurrency policy.
func PlanCronJob(cj *jobv1.CronJob, jobs []*jobv1.Job, now time.Time) CronPlan {
	st := proto.Clone(cj.GetStatus()).(*jobv1.CronJobStatus)
	if st == nil {
		st = &jobv1.CronJobStatus{}
	}
	plan := CronPlan{Status: st}
	s := cj.GetSpec()

	// Active list: unfinished owned Jobs; finished ones leave it.
	wasActive := map[string]bool{}
	for _, r := range st.Active {
		wasActive[r.GetUid()] = true
	}
	st.Active = nil
	byName := map[string]*jobv1.Job{}
	var succeeded, failed []*jobv1.Job
	for _, j := range jobs {
		byName[j.GetMetadata().GetName()] = j
		switch {
		case !IsFinished(j):
			st.Active = append(st.Active, jobRef(j))
		case HasTrue(j.GetStatus(), CondComplete):
			succeeded = append(succeeded, j)
			if ct := j.GetStatus().GetCompletionTime(); ct != nil && (st.LastSuccessfulTime == nil || ct.AsTime().After(st.LastSuccessfulTime.AsTime())) {
				st.LastSuccessfulTime = ct
			}
			if wasActive[j.GetMetadata().GetUid()] {
				plan.Events = append(plan.Events, Event{"Normal", "SawCompletedJob", fmt.Sprintf("Saw completed job: %s, condition: Complete", j.GetMetadata().GetName())})
			}
		default:
			failed = append(failed, j)
			if wasActive[j.GetMetadata().GetUid()] {
				plan.Events = append(plan.Events, Event{"Normal", "SawCompletedJob", fmt.Sprintf("Saw completed job: %s, condition: Failed", j.GetMetadata().GetName())})
			}
		}
	}
	sort.Slice(st.Active, func(a, b int) bool { return st.Active[a].GetName() < st.Active[b].GetName() })
	plan.trimHistory(succeeded, s.SuccessfulJobsHistoryLimit)
	plan.trimHistory(failed, s.FailedJobsHistoryLimit)

	if cj.GetMetadata().GetDeletionTimestamp() != nil || s.GetSuspend() {
		return plan
	}
	loc, err := Location(cj)
	if err != nil {
		plan.Events = append(plan.Events, Event{"Warning", "UnknownTimeZone", fmt.Sprintf("invalid timeZone: %q: %s", s.GetTimeZone(), err)})
		return plan
	}
	sched, err := api.ParseSchedule(s.GetSchedule(), s.GetTimeZone())
	if err != nil {
		plan.Events = append(plan.Events, Event{"Warning", "UnparseableSchedule", fmt.Sprintf("unparseable schedule: %q : %s", s.GetSchedule(), err)})
		return plan
	}
	plan.RequeueAfter = sched.Next(now).Sub(now) + nextScheduleDelta
	scheduled, missed, ok := MostRecentScheduleTime(cj, now, sched)
	if missed > TooManyMissed {
		plan.Events = append(plan.Events, Event{"Warning", "TooManyMissedTimes",
			fmt.Sprintf("too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)})
	}
	if !ok {
		return plan
	}
	if sds := s.StartingDeadlineSeconds; sds != nil && scheduled.Add(time.Duration(*sds)*time.Second).Before(now) {
		plan.Events = append(plan.Events, Event{"Warning", "MissSchedule", "Missed scheduled time to start a job: " + scheduled.In(loc).Format(time.RFC1123Z)})
		return plan
	}
	name := JobName(cj.GetMetadata().GetName(), scheduled)
	if _, exists := byName[name]; exists {
		// This run was started before (maybe by a replica that crashed before
		// writing the status): record it, never start it twice.
		if st.LastScheduleTime == nil || st.LastScheduleTime.AsTime().Before(scheduled) {
			st.LastScheduleTime = timestamppb.New(scheduled)
		}
		return plan
	}
	if s.GetConcurrencyPolicy() == api.ForbidConcurrent && len(st.Active) > 0 {
		plan.Events = append(plan.Events, Event{"Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid"})
		return plan
	}
	if s.GetConcurrencyPolicy() == api.ReplaceConcurrent {
		for _, r := range st.Active {
			if j := byName[r.GetName()]; j != nil {
				plan.Delete = append(plan.Delete, j)
				plan.Events = append(plan.Events, Event{"Normal", "SuccessfulDelete", "Deleted job " + r.GetName()})
			}
		}
		st.Active = nil
	}
	j := JobFromTemplate(cj, name)
	j.Metadata.Annotations[api.AnnotationScheduledTimestamp] = scheduled.In(loc).Format(time.RFC3339)
	j.Metadata.CreationTimestamp = timestamppb.New(now.Truncate(time.Second))
	plan.Create = j
	plan.Events = append(plan.Events, Event{"Normal", "SuccessfulCreate", "Created job " + name})
	st.LastScheduleTime = timestamppb.New(scheduled)
	return plan
}

// trimHistory deletes the oldest finished Jobs beyond limit (nil: keep all).
func (p *CronPlan) trimHistory(jobs []*jobv1.Job, limit *int32) {
	if limit == nil || int32(len(jobs)) <= *limit {
		return
	}
	sort.Slice(jobs, func(a, b int) bool {
		ta, tb := jobs[a].GetStatus().GetStartTime(), jobs[b].GetStatus().GetStartTime()
		if ta == nil || tb == nil {
			return ta == nil && tb != nil
		}
		if ta.AsTime().Equal(tb.AsTime()) {
			return jobs[a].GetMetadata().GetName() < jobs[b].GetMetadata().GetName()
		}
		return ta.AsTime().Before(tb.AsTime())
	})
	for _, j := range jobs[:int32(len(jobs))-*limit] {
		p.Delete = append(p.Delete, j)
		p.Events = append(p.Events, Event{"Normal", "SuccessfulDelete", "Deleted job " + j.GetMetadata().GetName()})
	}
}

// JobFromTemplate is getJobFromTemplate2: a Job named name with the CronJob's
// jobTemplate labels, annotations and spec, controlled by the CronJob.
func JobFromTemplate(cj *jobv1.CronJob, name string) *jobv1.Job {
	m := cj.GetMetadata()
	jt := cj.GetSpec().GetJobTemplate()
	labels := map[string]string{}
	for k, v := range jt.GetMetadata().GetLabels() {
		labels[k] = v
	}
	ann := map[string]string{}
	for k, v := range jt.GetMetadata().GetAnnotations() {
		ann[k] = v
	}
	return &jobv1.Job{
		ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &corev1.ObjectMeta{
			Name: name, Namespace: m.GetNamespace(), Labels: labels, Annotations: ann,
			OwnerReferences: []*corev1.OwnerReference{podutil.NewControllerRef(m, "batch/v1", "CronJob")},
		},
		Spec: proto.Clone(jt.GetSpec()).(*jobv1.JobSpec),
	}
}

func jobRef(j *jobv1.Job) *corev1.ObjectReference {
	m := j.GetMetadata()
	return &corev1.ObjectReference{Kind: "Job", Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid(),
		ApiVersion: "batch/v1"}
}
