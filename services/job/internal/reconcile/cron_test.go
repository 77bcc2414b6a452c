package reconcile

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/job/internal/api"
	"github.com/podwarden/podwarden/shared/clock"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

type cronOpts struct {
	schedule, tz, policy string
	created              time.Time
	lastSchedule         time.Time
	deadline             *int64
	suspend              bool
}

func newCronJob(o cronOpts) *jobv1.CronJob {
	cj := &jobv1.CronJob{
		Metadata: &corev1.ObjectMeta{Name: "hello", Namespace: "default", Uid: "uid-cj", CreationTimestamp: timestamppb.New(o.created)},
		Spec: &jobv1.CronJobSpec{Schedule: o.schedule, ConcurrencyPolicy: o.policy, StartingDeadlineSeconds: o.deadline, Suspend: &o.suspend,
			JobTemplate: &jobv1.JobTemplateSpec{Metadata: &corev1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
				Spec: &jobv1.JobSpec{Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{RestartPolicy: "OnFailure",
					Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}}}},
		Status: &jobv1.CronJobStatus{},
	}
	if o.tz != "" {
		cj.Spec.TimeZone = &o.tz
	}
	if !o.lastSchedule.IsZero() {
		cj.Status.LastScheduleTime = timestamppb.New(o.lastSchedule)
	}
	api.DefaultCronJob(cj)
	return cj
}

// cronJobRun is a Job of the CronJob for a scheduled time, running or finished.
func cronJobRun(scheduled time.Time, finished string, started time.Time) *jobv1.Job {
	t := true
	j := &jobv1.Job{Metadata: &corev1.ObjectMeta{Name: JobName("hello", scheduled), Namespace: "default", Uid: "uid-" + JobName("hello", scheduled),
		OwnerReferences: []*corev1.OwnerReference{{Kind: "CronJob", Name: "hello", Uid: "uid-cj", Controller: &t}}},
		Status: &jobv1.JobStatus{StartTime: timestamppb.New(started)}}
	if finished != "" {
		j.Status.Conditions = []*corev1.Condition{{Type: finished, Status: "True"}}
		j.Status.CompletionTime = timestamppb.New(started.Add(time.Second))
	}
	return j
}

func TestJobName(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	if got, want := JobName("hello", at), "hello-29922360"; got != want {
		t.Errorf("JobName = %q, want %q (unix minutes)", got, want)
	}
}

func TestMostRecentScheduleTime(t *testing.T) {
	base := time.Date(2026, 5, 4, 10, 0, 30, 0, time.UTC)
	cases := map[string]struct {
		cj     cronOpts
		now    time.Time
		ok     bool
		want   time.Time
		missed int
	}{
		"before the first run": {cj: cronOpts{schedule: "*/1 * * * *", created: base}, now: base.Add(20 * time.Second)},
		"first run due":        {cj: cronOpts{schedule: "*/1 * * * *", created: base}, now: base.Add(30 * time.Second), ok: true, want: base.Add(30 * time.Second), missed: 1},
		"only the latest of missed runs": {cj: cronOpts{schedule: "*/1 * * * *", created: base, lastSchedule: base.Add(-30 * time.Second)},
			now: base.Add(5*time.Minute + 40*time.Second), ok: true, want: base.Add(5*time.Minute + 30*time.Second), missed: 6},
		"more than 100 missed": {cj: cronOpts{schedule: "@hourly", created: base.Add(-200 * time.Hour)}, now: base, ok: true,
			want: base.Add(-30 * time.Second), missed: 200},
		"startingDeadlineSeconds bounds the search": {cj: cronOpts{schedule: "*/1 * * * *", created: base.Add(-500 * time.Hour), deadline: i64(120)},
			now: base, ok: true, want: base.Add(-30 * time.Second), missed: 2},
		"@daily": {cj: cronOpts{schedule: "@daily", created: base}, now: base.Add(24 * time.Hour), ok: true,
			want: time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC), missed: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cj := newCronJob(tc.cj)
			sched, err := api.ParseSchedule(cj.Spec.Schedule, cj.Spec.GetTimeZone())
			if err != nil {
				t.Fatal(err)
			}
			got, missed, ok := MostRecentScheduleTime(cj, tc.now, sched)
			if ok != tc.ok || !got.Equal(tc.want) || missed != tc.missed {
				t.Errorf("got %v, %d, %v; want %v, %d, %v", got, missed, ok, tc.want, tc.missed, tc.ok)
			}
		})
	}
}

// TestCronAcrossDST: "0 9 * * *" in Europe/Berlin runs at 08:00 UTC in winter
// and 07:00 UTC in summer; "30 2 * * *" does not exist on the spring-forward
// day in America/New_York, so (as with Kubernetes, which uses the same cron
// library) it does not run that day. A fake clock walks the days, no real waiting.
func TestCronAcrossDST(t *testing.T) {
	cases := map[string]struct {
		schedule, tz string
		from         time.Time
		want         []time.Time
	}{
		"Berlin 09:00 across the March change": {schedule: "0 9 * * *", tz: "Europe/Berlin",
			from: time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC),
			want: []time.Time{time.Date(2026, 3, 28, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC)}},
		"Berlin 09:00 across the October change": {schedule: "0 9 * * *", tz: "Europe/Berlin",
			from: time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC),
			want: []time.Time{time.Date(2026, 10, 25, 8, 0, 0, 0, time.UTC), time.Date(2026, 10, 26, 8, 0, 0, 0, time.UTC)}},
		"New York 02:30 does not run on the day it does not exist": {schedule: "30 2 * * *", tz: "America/New_York",
			from: time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC),
			want: []time.Time{time.Date(2026, 3, 9, 6, 30, 0, 0, time.UTC), time.Date(2026, 3, 10, 6, 30, 0, 0, time.UTC)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewFake(tc.from)
			cj := newCronJob(cronOpts{schedule: tc.schedule, tz: tc.tz, policy: api.AllowConcurrent, created: tc.from})
			var got []time.Time
			for len(got) < len(tc.want) {
				p := PlanCronJob(cj, nil, clk.Now())
				if p.Create != nil {
					ts, _ := time.Parse(time.RFC3339, p.Create.Metadata.Annotations[api.AnnotationScheduledTimestamp])
					got = append(got, ts.UTC())
					cj.Status = p.Status
					cj.Status.Active = nil
				}
				if p.RequeueAfter <= 0 {
					t.Fatalf("no requeue")
				}
				clk.Step(p.RequeueAfter)
				if clk.Now().After(tc.from.Add(10 * 24 * time.Hour)) {
					t.Fatalf("ran out of time; got %v", got)
				}
			}
			for i := range tc.want {
				if !got[i].Equal(tc.want[i]) {
					t.Errorf("run %d at %v, want %v (all: %v)", i, got[i], tc.want[i], got)
				}
			}
		})
	}
}

func TestPlanCronJob(t *testing.T) {
	created := time.Date(2026, 5, 4, 10, 0, 30, 0, time.UTC)
	due := created.Add(30 * time.Second) // 10:01:00
	prev := due.Add(-time.Minute)
	cases := map[string]struct {
		cj        cronOpts
		jobs      []*jobv1.Job
		now       time.Time
		create    string
		deletes   []string
		active    []string
		events    []string
		noRequeue bool
	}{
		"due: creates <name>-<unix minutes>": {cj: cronOpts{schedule: "*/1 * * * *", created: created}, now: due,
			create: JobName("hello", due), active: []string{JobName("hello", due)}, events: []string{"SuccessfulCreate"}},
		"already created (restart): not twice": {cj: cronOpts{schedule: "*/1 * * * *", created: created}, now: due.Add(time.Second),
			jobs: []*jobv1.Job{cronJobRun(due, "", due)}, active: []string{JobName("hello", due)}},
		"Allow: runs alongside an active job": {cj: cronOpts{schedule: "*/1 * * * *", created: created, policy: api.AllowConcurrent, lastSchedule: prev}, now: due,
			jobs: []*jobv1.Job{cronJobRun(prev, "", prev)}, create: JobName("hello", due),
			active: []string{JobName("hello", prev), JobName("hello", due)}, events: []string{"SuccessfulCreate"}},
		"Forbid: skips while one is active": {cj: cronOpts{schedule: "*/1 * * * *", created: created, policy: api.ForbidConcurrent, lastSchedule: prev}, now: due,
			jobs: []*jobv1.Job{cronJobRun(prev, "", prev)}, active: []string{JobName("hello", prev)}, events: []string{"JobAlreadyActive"}},
		"Forbid: runs when the previous finished": {cj: cronOpts{schedule: "*/1 * * * *", created: created, policy: api.ForbidConcurrent, lastSchedule: prev}, now: due,
			jobs: []*jobv1.Job{cronJobRun(prev, "Complete", prev)}, create: JobName("hello", due), active: []string{JobName("hello", due)},
			events: []string{"SuccessfulCreate"}},
		"Replace: deletes the active job": {cj: cronOpts{schedule: "*/1 * * * *", created: created, policy: api.ReplaceConcurrent, lastSchedule: prev}, now: due,
			jobs: []*jobv1.Job{cronJobRun(prev, "", prev)}, create: JobName("hello", due), deletes: []string{JobName("hello", prev)},
			active: []string{JobName("hello", due)}, events: []string{"SuccessfulDelete", "SuccessfulCreate"}},
		"suspended: nothing starts": {cj: cronOpts{schedule: "*/1 * * * *", created: created, suspend: true}, now: due, noRequeue: true},
		"missed beyond startingDeadlineSeconds: not started": {cj: cronOpts{schedule: "0 * * * *", created: created.Add(-2 * time.Hour), deadline: i64(10)},
			now: time.Date(2026, 5, 4, 10, 0, 30, 0, time.UTC)},
		"more than 100 missed: warning, latest runs": {cj: cronOpts{schedule: "*/1 * * * *", created: created.Add(-3 * time.Hour)}, now: due,
			create: JobName("hello", due), active: []string{JobName("hello", due)}, events: []string{"TooManyMissedTimes", "SuccessfulCreate"}},
		"unknown time zone: event, no runs": {cj: cronOpts{schedule: "*/1 * * * *", tz: "Mars/Olympus", created: created}, now: due,
			events: []string{"UnknownTimeZone"}, noRequeue: true},
		"history: 3 successful and 1 failed kept": {cj: cronOpts{schedule: "0 0 1 1 *", created: created}, now: due,
			jobs: []*jobv1.Job{
				cronJobRun(due.Add(-5*time.Minute), "Complete", due.Add(-5*time.Minute)), cronJobRun(due.Add(-4*time.Minute), "Complete", due.Add(-4*time.Minute)),
				cronJobRun(due.Add(-3*time.Minute), "Complete", due.Add(-3*time.Minute)), cronJobRun(due.Add(-2*time.Minute), "Complete", due.Add(-2*time.Minute)),
				cronJobRun(due.Add(-9*time.Minute), "Failed", due.Add(-9*time.Minute)), cronJobRun(due.Add(-8*time.Minute), "Failed", due.Add(-8*time.Minute)),
			},
			deletes: []string{JobName("hello", due.Add(-5*time.Minute)), JobName("hello", due.Add(-9*time.Minute))},
			events:  []string{"SuccessfulDelete", "SuccessfulDelete"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.cj.policy == "" {
				tc.cj.policy = api.AllowConcurrent
			}
			p := PlanCronJob(newCronJob(tc.cj), tc.jobs, tc.now)
			gotCreate := ""
			if p.Create != nil {
				gotCreate = p.Create.Metadata.Name
				if p.Create.Metadata.OwnerReferences[0].GetUid() != "uid-cj" || p.Create.Metadata.Labels["app"] != "hello" ||
					p.Create.Metadata.Annotations[api.AnnotationScheduledTimestamp] == "" {
					t.Errorf("created job metadata: %v", p.Create.Metadata)
				}
				p.Status.Active = append(p.Status.Active, jobRef(p.Create))
			}
			if gotCreate != tc.create {
				t.Errorf("create %q, want %q", gotCreate, tc.create)
			}
			var dels, active, evs []string
			for _, j := range p.Delete {
				dels = append(dels, j.Metadata.Name)
			}
			for _, r := range p.Status.Active {
				active = append(active, r.GetName())
			}
			for _, e := range p.Events {
				evs = append(evs, e.Reason)
			}
			for what, pair := range map[string][2][]string{"deletes": {dels, tc.deletes}, "active": {active, tc.active}, "events": {evs, tc.events}} {
				if strings.Join(pair[0], ",") != strings.Join(pair[1], ",") {
					t.Errorf("%s %v, want %v", what, pair[0], pair[1])
				}
			}
			if (p.RequeueAfter == 0) != tc.noRequeue {
				t.Errorf("requeue %v", p.RequeueAfter)
			}
		})
	}
}
