package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/util/duration"

	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// jobBackend serves Jobs and CronJobs.
var jobBackend = backend{
	name:        BackendJob,
	conn:        func(b *Backends) *grpc.ClientConnInterface { return &b.Job },
	register:    (*gateway).registerJob,
	patchRoutes: jobPatchRoutes,
	resources:   jobResources,
	printers:    map[string]printer{"Job": jobPrinter, "CronJob": cronJobPrinter},
}

var (
	jobDesc     = (&jobv1.Job{}).ProtoReflect().Descriptor()
	cronJobDesc = (&jobv1.CronJob{}).ProtoReflect().Descriptor()
)

// jobPatchRoutes are the Job and CronJob paths that take a PATCH.
var jobPatchRoutes = []patchRoute{
	{"/apis/batch/v1/namespaces/{namespace}/jobs/{name}", jobDesc},
	{"/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status", jobDesc},
	{"/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}", cronJobDesc},
	{"/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}/status", cronJobDesc},
}

// jobResources are the resources served through the job backend.
var jobResources = []groupResource{
	{"batch/v1", apiResource{Name: "jobs", SingularName: "job", Namespaced: true, Kind: "Job", Verbs: objectVerbs, Categories: []string{"all"}}},
	{"batch/v1", apiResource{Name: "jobs/status", Namespaced: true, Kind: "Job", Verbs: subresourceVerbs}},
	{"batch/v1", apiResource{Name: "cronjobs", SingularName: "cronjob", Namespaced: true, Kind: "CronJob", Verbs: objectVerbs, ShortNames: []string{"cj"}, Categories: []string{"all"}}},
	{"batch/v1", apiResource{Name: "cronjobs/status", Namespaced: true, Kind: "CronJob", Verbs: subresourceVerbs}},
}

// registerJob registers the job backend's generated routes and the answer to
// the batch/v1beta1 paths older tutorials use: Kubernetes stopped serving
// batch/v1beta1 CronJob in 1.25, and so does podwarden, with a message that
// says to use batch/v1 (whose fields are the same).
func (g *gateway) registerJob(ctx context.Context, conn grpc.ClientConnInterface) error {
	err := errors.Join(
		jobv1.RegisterJobServiceHandlerClient(ctx, g.mux, jobv1.NewJobServiceClient(conn)),
		jobv1.RegisterCronJobServiceHandlerClient(ctx, g.mux, jobv1.NewCronJobServiceClient(conn)),
	)
	if err != nil {
		return err
	}
	v1beta1 := func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		g.writeStatus(w, r, g.outbound(r), failureStatus(http.StatusNotFound, ReasonNotFound,
			"batch/v1beta1 CronJob is no longer served (removed in Kubernetes 1.25): use apiVersion batch/v1, whose fields are the same"))
	}
	for _, p := range []string{"/apis/batch/v1beta1/namespaces/{namespace}/cronjobs", "/apis/batch/v1beta1/namespaces/{namespace}/cronjobs/{name}", "/apis/batch/v1beta1/cronjobs"} {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if err := g.mux.HandlePath(m, p, v1beta1); err != nil {
				return fmt.Errorf("register %s %s: %w", m, p, err)
			}
		}
	}
	return nil
}

// jobPrinter is kubectl's `get jobs` columns.
var jobPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Status", "string", 0), col("Completions", "string", 0), col("Duration", "string", 0), col("Age", "string", 0),
		col("Containers", "string", 1), col("Images", "string", 1), col("Selector", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		spec, st := obj(o, "spec"), obj(o, "status")
		completions := fmt.Sprintf("%d/1", integer(st, "succeeded"))
		if _, ok := spec["completions"]; ok {
			completions = fmt.Sprintf("%d/%d", integer(st, "succeeded"), integer(spec, "completions"))
		} else if p := integer(spec, "parallelism"); p > 1 {
			completions = fmt.Sprintf("%d/1 of %d", integer(st, "succeeded"), p)
		}
		dur := ""
		if start, err := time.Parse(time.RFC3339, str2(st, "startTime")); err == nil {
			end := now
			if done, err := time.Parse(time.RFC3339, str2(st, "completionTime")); err == nil {
				end = done
			}
			dur = duration.HumanDuration(end.Sub(start))
		}
		return append([]any{name(o), jobStatus(o), completions, dur, age(o, now)}, containerColumns(o)...)
	},
}

// jobStatus is kubectl's STATUS column of a Job.
func jobStatus(o map[string]any) string {
	status := "Running"
	for _, c := range list(obj(o, "status"), "conditions") {
		if str2(c, "status") != "True" {
			continue
		}
		switch t := str2(c, "type"); t {
		case "Complete", "Failed":
			return t
		case "SuccessCriteriaMet", "FailureTarget", "Suspended":
			status = t
		}
	}
	if obj(o, "metadata")["deletionTimestamp"] != nil {
		return "Terminating"
	}
	return status
}

// cronJobPrinter is kubectl's `get cronjobs` columns.
var cronJobPrinter = printer{
	columns: []column{col("Name", "string", 0), col("Schedule", "string", 0), col("Timezone", "string", 0), col("Suspend", "boolean", 0),
		col("Active", "integer", 0), col("Last Schedule", "string", 0), col("Age", "string", 0),
		col("Containers", "string", 1), col("Images", "string", 1), col("Selector", "string", 1)},
	cells: func(o map[string]any, now time.Time) []any {
		spec, st := obj(o, "spec"), obj(o, "status")
		tz := orNone(str2(spec, "timeZone"))
		suspend := "False"
		if b, _ := spec["suspend"].(bool); b {
			suspend = "True"
		}
		last := "<none>"
		if t, err := time.Parse(time.RFC3339, str2(st, "lastScheduleTime")); err == nil {
			last = duration.HumanDuration(now.Sub(t))
		}
		jobSpec := map[string]any{"spec": obj(obj(spec, "jobTemplate"), "spec")}
		return append([]any{name(o), str2(spec, "schedule"), tz, suspend, len(list(st, "active")), last, age(o, now)}, containerColumns(jobSpec)...)
	},
}
