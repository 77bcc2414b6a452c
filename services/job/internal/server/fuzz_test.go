package server

import (
	"testing"

	"github.com/podwarden/podwarden/shared/kindfuzz"

	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// Job and CronJob admission keeps kindfuzz's properties for any body (see kindfuzz).
var (
	res      = NewResources(nil, nil, nil)
	jobs     = kindfuzz.FromResource(res.Jobs, func() *jobv1.Job { return &jobv1.Job{} })
	cronJobs = kindfuzz.FromResource(res.CronJobs, func() *jobv1.CronJob { return &jobv1.CronJob{} })
)

func TestAdmitManifests(t *testing.T) {
	jobs.CheckManifests(t, "Job")
	cronJobs.CheckManifests(t, "CronJob")
}

func FuzzJob(f *testing.F) {
	kindfuzz.AddSeeds(f, "Job")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		jobs.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzCronJob(f *testing.F) {
	kindfuzz.AddSeeds(f, "CronJob")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		cronJobs.Check(t, kindfuzz.Mutate(data, at, value))
	})
}
