package reconcile

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/podwarden/podwarden/services/job/internal/api"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

func TestBackOffSchedule(t *testing.T) {
	cases := map[string]struct {
		backOff BackOff
		want    []time.Duration // after failure 1, 2, ...
	}{
		"kubernetes default: 10s doubling, capped at 6m": {backOff: DefaultBackOff,
			want: []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 320 * time.Second, 6 * time.Minute, 6 * time.Minute}},
		"scaled by 0.1": {backOff: DefaultBackOff.Scaled(0.1),
			want: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 36 * time.Second}},
		"no cap": {backOff: BackOff{Base: time.Second}, want: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if d := tc.backOff.Delay(0); d != 0 {
				t.Errorf("Delay(0) = %v", d)
			}
			for i, w := range tc.want {
				if got := tc.backOff.Delay(i + 1); got != w {
					t.Errorf("Delay(%d) = %v, want %v", i+1, got, w)
				}
			}
		})
	}
}

func TestIndexesRoundTrip(t *testing.T) {
	cases := map[string]struct {
		in          string
		completions int32
		want        string
	}{
		"empty":           {in: "", completions: 5, want: ""},
		"ranges":          {in: "0,1,2,4,6-7", completions: 10, want: "0-2,4,6-7"},
		"out of range":    {in: "1,3-9", completions: 5, want: "1,3-4"},
		"garbage ignored": {in: "x,2", completions: 5, want: "2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := formatIndexes(parseIndexes(tc.in, tc.completions)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlanJob(t *testing.T) {
	cases := map[string]struct {
		job  *jobv1.Job
		pods []*corev1.Pod
		now  time.Time
		// want
		creates, deletes, counted int
		active, succeeded, failed int32
		completedIndexes          string
		createdIndexes            []int32
		conditions                []string // type=reason of True conditions
		requeue                   time.Duration
		deleteJob                 bool
	}{
		"new job starts one pod": {
			job: newJob(jobOpts{}), now: t0, creates: 1, active: 1,
		},
		"parallelism ceiling with completions": {
			job: newJob(jobOpts{completions: i32(4), parallelism: i32(2), status: started(t0)}), now: t0,
			creates: 2, active: 2,
		},
		"remaining completions bound active pods": {
			job:  newJob(jobOpts{completions: i32(4), parallelism: i32(3), status: &jobv1.JobStatus{StartTime: timestamppb.New(t0), Succeeded: 3}}),
			pods: []*corev1.Pod{pod("Running", t0), pod("Running", t0)}, now: t0,
			deletes: 1, active: 1, succeeded: 3,
		},
		"success counted once": {
			job:  newJob(jobOpts{completions: i32(4), parallelism: i32(2), status: &jobv1.JobStatus{StartTime: timestamppb.New(t0), Succeeded: 1}}),
			pods: []*corev1.Pod{pod("Succeeded", t0, withCounted(CountedSucceeded)), pod("Succeeded", t0), pod("Running", t0)}, now: t0,
			counted: 1, creates: 1, active: 2, succeeded: 2,
		},
		"completions reached: SuccessCriteriaMet then Complete": {
			job:  newJob(jobOpts{completions: i32(2), parallelism: i32(2), status: &jobv1.JobStatus{StartTime: timestamppb.New(t0), Succeeded: 1}}),
			pods: []*corev1.Pod{pod("Succeeded", t0, withCounted(CountedSucceeded)), pod("Succeeded", t0)}, now: t0,
			counted: 1, succeeded: 2, conditions: []string{"SuccessCriteriaMet=CompletionsReached", "Complete=CompletionsReached"},
		},
		"work queue: done when one succeeded and none runs": {
			job:  newJob(jobOpts{parallelism: i32(2), status: started(t0)}),
			pods: []*corev1.Pod{pod("Succeeded", t0), pod("Succeeded", t0)}, now: t0,
			counted: 2, succeeded: 2, conditions: []string{"SuccessCriteriaMet=CompletionsReached", "Complete=CompletionsReached"},
		},
		"work queue: no new pods after a success": {
			job:  newJob(jobOpts{parallelism: i32(3), status: started(t0)}),
			pods: []*corev1.Pod{pod("Succeeded", t0), pod("Running", t0)}, now: t0,
			counted: 1, active: 1, succeeded: 1,
		},
		"indexed: lowest pending indexes first": {
			job:  newJob(jobOpts{completions: i32(5), parallelism: i32(2), indexed: true, status: &jobv1.JobStatus{StartTime: timestamppb.New(t0), CompletedIndexes: "0"}}),
			pods: []*corev1.Pod{pod("Succeeded", t0, withIndex(0), withCounted(CountedSucceeded)), pod("Succeeded", t0, withIndex(2))}, now: t0,
			counted: 1, creates: 2, createdIndexes: []int32{1, 3}, active: 2, succeeded: 2, completedIndexes: "0,2",
		},
		"indexed: duplicate index deleted": {
			job:  newJob(jobOpts{completions: i32(3), parallelism: i32(3), indexed: true, status: started(t0)}),
			pods: []*corev1.Pod{pod("Running", t0, withIndex(0)), pod("Running", t0, withIndex(0)), pod("Running", t0, withIndex(1)), pod("Running", t0, withIndex(2))}, now: t0,
			deletes: 1, active: 3,
		},
		"indexed: all indexes done": {
			job:  newJob(jobOpts{completions: i32(2), parallelism: i32(2), indexed: true, status: started(t0)}),
			pods: []*corev1.Pod{pod("Succeeded", t0, withIndex(0)), pod("Succeeded", t0, withIndex(1))}, now: t0,
			counted: 2, succeeded: 2, completedIndexes: "0-1", conditions: []string{"SuccessCriteriaMet=CompletionsReached", "Complete=CompletionsReached"},
		},
		"failed pod replaced after back-off": {
			job:  newJob(jobOpts{backoffLimit: 6, status: started(t0)}),
			pods: []*corev1.Pod{pod("Failed", t0)}, now: t0.Add(4 * time.Second),
			counted: 1, failed: 1, requeue: 6 * time.Second,
		},
		"back-off over: replacement created": {
			job:  newJob(jobOpts{backoffLimit: 6, status: &jobv1.JobStatus{StartTime: timestamppb.New(t0), Failed: 1}}),
			pods: []*corev1.Pod{pod("Failed", t0, withCounted(CountedFailed))}, now: t0.Add(10 * time.Second),
			creates: 1, active: 1, failed: 1,
		},
		"second failure doubles the back-off": {
			job:  newJob(jobOpts{backoffLimit: 6, status: &jobv1.JobStatus{StartTime: timestamppb.New(t0), Failed: 1}}),
			pods: []*corev1.Pod{pod("Failed", t0, withCounted(CountedFailed)), pod("Failed", t0.Add(15*time.Second))}, now: t0.Add(25 * time.Second),
			counted: 1, failed: 2, requeue: 10 * time.Second,
		},
		"backoffLimit exceeded": {
			job:  newJob(jobOpts{backoffLimit: 2, status: &jobv1.JobStatus{StartTime: timestamppb.New(t0), Failed: 2}}),
			pods: []*corev1.Pod{pod("Failed", t0, withCounted(CountedFailed)), pod("Failed", t0, withCounted(CountedFailed)), pod("Failed", t0)}, now: t0.Add(time.Minute),
			counted: 1, failed: 3, conditions: []string{"FailureTarget=BackoffLimitExceeded", "Failed=BackoffLimitExceeded"},
		},
		"OnFailure: restarts count against backoffLimit": {
			job:  newJob(jobOpts{backoffLimit: 3, restartPolicy: "OnFailure", status: started(t0)}),
			pods: []*corev1.Pod{pod("Running", t0, withRestarts(3))}, now: t0,
			deletes: 1, counted: 1, failed: 1, conditions: []string{"FailureTarget=BackoffLimitExceeded"},
		},
		"deadline exceeded: active pods deleted and counted failed": {
			job:  newJob(jobOpts{deadline: i64(100), status: started(t0)}),
			pods: []*corev1.Pod{pod("Running", t0)}, now: t0.Add(100 * time.Second),
			deletes: 1, counted: 1, failed: 1, conditions: []string{"FailureTarget=DeadlineExceeded"},
		},
		"deadline takes precedence over backoff": {
			job:  newJob(jobOpts{backoffLimit: 0, deadline: i64(10), status: started(t0)}),
			pods: []*corev1.Pod{pod("Failed", t0.Add(5*time.Second))}, now: t0.Add(11 * time.Second),
			counted: 1, failed: 1, conditions: []string{"FailureTarget=DeadlineExceeded", "Failed=DeadlineExceeded"},
		},
		"before the deadline: requeue at it": {
			job:  newJob(jobOpts{deadline: i64(100), status: started(t0)}),
			pods: []*corev1.Pod{pod("Running", t0)}, now: t0.Add(40 * time.Second),
			active: 1, requeue: 60 * time.Second,
		},
		"failing job waits for terminating pods": {
			job: newJob(jobOpts{status: &jobv1.JobStatus{StartTime: timestamppb.New(t0), Failed: 7, Conditions: []*corev1.Condition{
				{Type: CondFailureTarget, Status: "True", Reason: ReasonBackoffLimitExceeded}}}}),
			pods: []*corev1.Pod{pod("Running", t0, func(p *corev1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.New(t0) })}, now: t0,
			failed: 7, conditions: []string{"FailureTarget=BackoffLimitExceeded"},
		},
		"pod failure policy FailJob": {
			job: newJob(jobOpts{backoffLimit: 6, status: started(t0), pfp: &jobv1.PodFailurePolicy{Rules: []*jobv1.PodFailurePolicyRule{
				{Action: api.ActionFailJob, OnExitCodes: &jobv1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{42}}}}}}),
			pods: []*corev1.Pod{pod("Failed", t0, withExitCode(42))}, now: t0,
			counted: 1, failed: 1, conditions: []string{"FailureTarget=PodFailurePolicy", "Failed=PodFailurePolicy"},
		},
		"pod failure policy Ignore: not counted, replaced at once": {
			job: newJob(jobOpts{backoffLimit: 0, status: started(t0), pfp: &jobv1.PodFailurePolicy{Rules: []*jobv1.PodFailurePolicyRule{
				{Action: api.ActionIgnore, OnExitCodes: &jobv1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{137}}}}}}),
			pods: []*corev1.Pod{pod("Failed", t0, withExitCode(137))}, now: t0,
			counted: 1, creates: 1, active: 1,
		},
		"suspended: pods deleted, Suspended condition": {
			job:  newJob(jobOpts{suspend: true, status: started(t0)}),
			pods: []*corev1.Pod{pod("Running", t0)}, now: t0,
			deletes: 1, conditions: []string{"Suspended=JobSuspended"},
		},
		"resumed": {
			job: newJob(jobOpts{status: &jobv1.JobStatus{Conditions: []*corev1.Condition{{Type: CondSuspended, Status: "True", Reason: ReasonJobSuspended}}}}),
			now: t0, creates: 1, active: 1,
		},
		"ttl not yet": {
			job: newJob(jobOpts{ttl: i32(30), status: &jobv1.JobStatus{Succeeded: 1, Conditions: []*corev1.Condition{
				{Type: CondComplete, Status: "True", Reason: ReasonCompletionsReached, LastTransitionTime: timestamppb.New(t0)}}}}),
			now: t0.Add(10 * time.Second), succeeded: 1, conditions: []string{"Complete=CompletionsReached"}, requeue: 20 * time.Second,
		},
		"ttl expired": {
			job: newJob(jobOpts{ttl: i32(30), status: &jobv1.JobStatus{Succeeded: 1, Conditions: []*corev1.Condition{
				{Type: CondComplete, Status: "True", Reason: ReasonCompletionsReached, LastTransitionTime: timestamppb.New(t0)}}}}),
			now: t0.Add(30 * time.Second), succeeded: 1, conditions: []string{"Complete=CompletionsReached"}, deleteJob: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := planner.Plan(tc.job, tc.pods, tc.now)
			if len(p.Create) != tc.creates || len(p.Delete) != tc.deletes || len(p.Counted) != tc.counted {
				t.Errorf("creates/deletes/counted = %d/%d/%d, want %d/%d/%d", len(p.Create), len(p.Delete), len(p.Counted), tc.creates, tc.deletes, tc.counted)
			}
			st := p.Status
			if st.GetActive() != tc.active || st.GetSucceeded() != tc.succeeded || st.GetFailed() != tc.failed || st.GetCompletedIndexes() != tc.completedIndexes {
				t.Errorf("active/succeeded/failed/indexes = %d/%d/%d/%q, want %d/%d/%d/%q", st.GetActive(), st.GetSucceeded(), st.GetFailed(),
					st.GetCompletedIndexes(), tc.active, tc.succeeded, tc.failed, tc.completedIndexes)
			}
			var conds []string
			for _, c := range st.GetConditions() {
				if c.GetStatus() == "True" {
					conds = append(conds, c.GetType()+"="+c.GetReason())
				}
			}
			if len(conds) != len(tc.conditions) {
				t.Errorf("conditions %v, want %v", conds, tc.conditions)
			} else {
				for i := range conds {
					if conds[i] != tc.conditions[i] {
						t.Errorf("conditions %v, want %v", conds, tc.conditions)
						break
					}
				}
			}
			if p.RequeueAfter != tc.requeue {
				t.Errorf("requeue %v, want %v", p.RequeueAfter, tc.requeue)
			}
			if p.DeleteJob != tc.deleteJob {
				t.Errorf("deleteJob %v, want %v", p.DeleteJob, tc.deleteJob)
			}
			// Each pod created and deleted has its event, the creates' first.
			for i, pod := range p.Create {
				if want := (Event{"Normal", "SuccessfulCreate", "Created pod: " + pod.Metadata.Name}); i >= len(p.Events) || p.Events[i] != want {
					t.Errorf("events %v, want %v at %d", p.Events, want, i)
				}
			}
			deleted := 0
			for _, e := range p.Events {
				if e.Reason == "SuccessfulDelete" {
					deleted++
				}
			}
			if deleted != len(p.Delete) {
				t.Errorf("%d SuccessfulDelete events for %d deletes", deleted, len(p.Delete))
			}
			for i, want := range tc.createdIndexes {
				if got := PodIndex(p.Create[i]); got != want {
					t.Errorf("created pod %d has index %d, want %d", i, got, want)
				}
			}
			if st.GetStartTime() == nil && !tc.job.GetSpec().GetSuspend() && !IsFinished(tc.job) {
				t.Errorf("no startTime")
			}
		})
	}
}

func TestNewPodIndexed(t *testing.T) {
	j := newJob(jobOpts{completions: i32(3), indexed: true})
	p := planner.newPod(j, 2)
	m := p.GetMetadata()
	if m.GetName() != "j-2-x" || m.GetLabels()[api.LabelCompletionIndex] != "2" || m.GetAnnotations()[api.LabelCompletionIndex] != "2" ||
		m.GetLabels()[api.LabelJobName] != "j" || m.GetLabels()[api.LabelControllerUID] != "uid-j" {
		t.Errorf("metadata: %v", m)
	}
	if p.GetSpec().GetHostname() != "j-2" {
		t.Errorf("hostname %q", p.GetSpec().GetHostname())
	}
	env := p.GetSpec().GetContainers()[0].GetEnv()
	if len(env) != 1 || env[0].GetName() != "JOB_COMPLETION_INDEX" || env[0].GetValue() != "2" {
		t.Errorf("env %v", env)
	}
	if ref := m.GetOwnerReferences(); len(ref) != 1 || ref[0].GetKind() != "Job" || !ref[0].GetController() {
		t.Errorf("owner %v", ref)
	}
}
