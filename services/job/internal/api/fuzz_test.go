package api

import (
	"testing"
	"time"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// FuzzCronSchedule: a schedule and a time zone never make parsing or
// validation panic; a validation error names spec.schedule or spec.timeZone;
// what validation accepts, the controller can use: it parses in its time zone
// and its next run times move forward.
func FuzzCronSchedule(f *testing.F) {
	for _, s := range []string{
		"*/1 * * * *", "0 0 * * *", "30 2 * * 1-5", "@hourly", "@daily", "@every 1h", "@every 1s",
		"0 0 30 2 *", "*/0 * * * *", "60 * * * *", "0 0 * * 7", "0 0 ? * MON-FRI", "0 0 1 JAN,FEB *",
		"1,2,3-5/2 * * * *", "TZ=UTC 0 0 * * *", "CRON_TZ=Europe/Paris 0 0 * * *", "", "TZ=", "@yearly junk",
	} {
		f.Add(s, "")
		f.Add(s, "Europe/Paris")
	}
	f.Add("0 2 * * *", "America/New_York")
	f.Add("0 0 * * *", "Local")
	f.Add("0 0 * * *", "../etc/passwd")
	f.Add("0 0 * * *", "UTC 0")
	f.Fuzz(func(t *testing.T, schedule, tz string) {
		_, _ = ParseSchedule(schedule, tz) // never panics, whatever the input
		c := &jobv1.CronJob{
			Metadata: &corev1.ObjectMeta{Name: "cron", Namespace: "default"},
			Spec: &jobv1.CronJobSpec{
				Schedule: schedule,
				JobTemplate: &jobv1.JobTemplateSpec{Spec: &jobv1.JobSpec{Template: &corev1.PodTemplateSpec{
					Spec: &corev1.PodSpec{RestartPolicy: "OnFailure", Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}},
				}}},
			},
		}
		if tz != "" {
			c.Spec.TimeZone = &tz
		}
		DefaultCronJob(c)
		errs := ValidateCronJob(c, nil, true)
		for _, e := range errs {
			if e.Field != "spec.schedule" && e.Field != "spec.timeZone" {
				t.Fatalf("error on %s for schedule %q, time zone %q: %v", e.Field, schedule, tz, e)
			}
		}
		if len(errs) > 0 {
			return
		}
		if _, err := time.LoadLocation(tz); err != nil {
			t.Fatalf("accepted time zone %q does not load: %v", tz, err)
		}
		sched, err := ParseSchedule(schedule, tz)
		if err != nil {
			t.Fatalf("accepted schedule %q in %q does not parse: %v", schedule, tz, err)
		}
		now := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC) // a DST change in Europe
		for range 3 {
			next := sched.Next(now)
			if next.IsZero() {
				return // never fires (February 30th)
			}
			if !next.After(now) {
				t.Fatalf("schedule %q in %q: next after %v is %v", schedule, tz, now, next)
			}
			now = next
		}
	})
}
