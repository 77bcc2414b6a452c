package integration

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

const (
	jobsPath     = "/apis/batch/v1/namespaces/default/jobs"
	cronJobsPath = "/apis/batch/v1/namespaces/default/cronjobs"
	podsPath     = "/api/v1/namespaces/default/pods"
)

// jobTimeScale speeds Job back-off and TTL up (job service) and `sleep N` in
// container scripts (node service); 0.3 keeps back-off gaps (3 s, 6 s)
// measurable on second-precision timestamps.
var jobEnv = []string{"PODWARDEN_JOB_TIME_SCALE=0.3", "PODWARDEN_SIM_TIME_SCALE=0.05"}

func jobCondition(j map[string]any, typ string) map[string]any {
	for _, c := range asList(path(j, "status", "conditions")) {
		if str(path(c, "type")) == typ {
			m, _ := c.(map[string]any)
			return m
		}
	}
	return nil
}

func jobPods(a api, job string) []map[string]any {
	return items(a.mustGet(podsPath + "?labelSelector=batch.kubernetes.io/job-name%3D" + job))
}

func waitJobCondition(t *testing.T, a api, name, typ string, timeout time.Duration) map[string]any {
	t.Helper()
	var job map[string]any
	eventually(t, timeout, name+" "+typ, func() (bool, string) {
		job = a.mustGet(jobsPath + "/" + name)
		c := jobCondition(job, typ)
		return c != nil && str(c["status"]) == "True", string(mustJSON(path(job, "status")))
	})
	return job
}

// TestJobUserStory is the user story for Jobs with the sim runtime:
// job-pi completes and has a log; job-fail creates 3 failed pods with growing
// back-off and fails with BackoffLimitExceeded; job-parallel never runs more
// than 2 pods, succeeds 4 times, and is deleted with its pods
// ttlSecondsAfterFinished after finishing.
func TestJobUserStory(t *testing.T) {
	s := startSystem(t, harness.Options{Env: jobEnv})
	a := api{t: t, base: s.GatewayURL}

	// job-pi: Complete (1/1), with the generated selector and labels.
	a.expect(a.do(http.MethodPost, jobsPath, "application/yaml", readManifest(t, "job-pi.yaml")), http.StatusCreated, "create pi")
	pi := waitJobCondition(t, a, "pi", "Complete", 30*time.Second)
	uid := str(path(pi, "metadata", "uid"))
	if got := str(path(pi, "spec", "selector", "matchLabels", "batch.kubernetes.io/controller-uid")); got != uid {
		t.Errorf("pi selector controller-uid = %q, want %q", got, uid)
	}
	if num(path(pi, "status", "succeeded")) != 1 || num(path(pi, "spec", "completions")) != 1 || num(path(pi, "spec", "parallelism")) != 1 ||
		path(pi, "status", "completionTime") == nil || jobCondition(pi, "SuccessCriteriaMet") == nil {
		t.Errorf("pi status: %s", mustJSON(path(pi, "status")))
	}
	piPods := jobPods(a, "pi")
	if len(piPods) != 1 || str(path(piPods[0], "status", "phase")) != "Succeeded" {
		t.Fatalf("pi pods: %s", mustJSON(piPods))
	}
	if r := a.get(podsPath + "/" + str(path(piPods[0], "metadata", "name")) + "/log"); r.Code != http.StatusOK {
		t.Errorf("pi log: %d %s", r.Code, r.Body)
	}

	// job-fail: 3 failed pods with growing back-off, then BackoffLimitExceeded.
	a.expect(a.do(http.MethodPost, jobsPath, "application/yaml", readManifest(t, "job-fail.yaml")), http.StatusCreated, "create busybox")
	failed := waitJobCondition(t, a, "busybox", "Failed", 60*time.Second)
	if c := jobCondition(failed, "Failed"); str(c["reason"]) != "BackoffLimitExceeded" || str(c["message"]) != "Job has reached the specified backoff limit" {
		t.Errorf("Failed condition: %s", mustJSON(c))
	}
	if jobCondition(failed, "FailureTarget") == nil || num(path(failed, "status", "failed")) != 3 {
		t.Errorf("busybox status: %s", mustJSON(path(failed, "status")))
	}
	pods := jobPods(a, "busybox")
	if len(pods) != 3 {
		t.Fatalf("busybox has %d pods, want 3: %s", len(pods), mustJSON(pods))
	}
	var created []time.Time
	for _, p := range pods {
		if str(path(p, "status", "phase")) != "Failed" {
			t.Errorf("pod %s phase %v", path(p, "metadata", "name"), path(p, "status", "phase"))
		}
		ts, _ := time.Parse(time.RFC3339, str(path(p, "metadata", "creationTimestamp")))
		created = append(created, ts)
	}
	sort.Slice(created, func(i, j int) bool { return created[i].Before(created[j]) })
	gap1, gap2 := created[1].Sub(created[0]), created[2].Sub(created[1])
	// Back-off 10 s then 20 s, times 0.3: 3 s then 6 s.
	if gap1 < 2*time.Second || gap2 <= gap1 {
		t.Errorf("back-off gaps %v, %v: want about 3s then 6s", gap1, gap2)
	}
	log := a.get(podsPath + "/" + str(path(pods[0], "metadata", "name")) + "/log")
	if log.Code != http.StatusOK || !strings.Contains(string(log.Body), "UTC") {
		t.Errorf("busybox log (date): %d %q", log.Code, log.Body)
	}

	// job-parallel: at most 2 active, 4 successes, then deleted after its TTL.
	a.expect(a.do(http.MethodPost, jobsPath, "application/yaml", readManifest(t, "job-parallel.yaml")), http.StatusCreated, "create job-01")
	maxActive := 0
	var logBody string
	eventually(t, 60*time.Second, "job-01 complete", func() (bool, string) {
		active := 0
		for _, p := range jobPods(a, "job-01") {
			if ph := str(path(p, "status", "phase")); ph != "Succeeded" && ph != "Failed" {
				active++
			} else if logBody == "" {
				logBody = string(a.get(podsPath + "/" + str(path(p, "metadata", "name")) + "/log").Body)
			}
		}
		maxActive = max(maxActive, active)
		j := a.mustGet(jobsPath + "/job-01")
		maxActive = max(maxActive, num(path(j, "status", "active")))
		c := jobCondition(j, "Complete")
		return c != nil && str(c["status"]) == "True", string(mustJSON(path(j, "status")))
	})
	j := a.mustGet(jobsPath + "/job-01")
	if num(path(j, "status", "succeeded")) != 4 || maxActive > 2 || maxActive == 0 {
		t.Errorf("job-01: succeeded %v, max active %d: %s", path(j, "status", "succeeded"), maxActive, mustJSON(path(j, "status")))
	}
	if logBody != "done\n" {
		t.Errorf("job-01 pod log = %q, want \"done\\n\"", logBody)
	}
	finished := time.Now()
	eventually(t, 30*time.Second, "job-01 and its pods deleted by TTL", func() (bool, string) {
		r := a.get(jobsPath + "/job-01")
		n := len(jobPods(a, "job-01"))
		return r.Code == http.StatusNotFound && n == 0, string(r.Body)
	})
	// TTL 30 s, times 0.3: 9 s.
	if d := time.Since(finished); d < 6*time.Second {
		t.Errorf("job-01 deleted %v after finishing, want about 9s", d)
	}

	// Indexed, created suspended: nothing runs until resumed; then indexes 0-2
	// complete, each pod with its index label, env and hostname.
	a.expect(a.postJSON(jobsPath, map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "idx"},
		"spec": map[string]any{"completions": 3, "parallelism": 2, "completionMode": "Indexed", "suspend": true,
			"template": map[string]any{"spec": map[string]any{"restartPolicy": "Never",
				"containers": []any{map[string]any{"name": "c", "image": "busybox", "command": []string{"sh", "-c", "sleep 1; echo hi"}}}}}}}),
		http.StatusCreated, "create idx")
	waitJobCondition(t, a, "idx", "Suspended", 30*time.Second)
	if n := len(jobPods(a, "idx")); n != 0 {
		t.Errorf("suspended idx has %d pods", n)
	}
	a.expect(a.mergePatch(jobsPath+"/idx", `{"spec":{"suspend":false}}`), http.StatusOK, "resume idx")
	idx := waitJobCondition(t, a, "idx", "Complete", 30*time.Second)
	if str(path(idx, "status", "completedIndexes")) != "0-2" || num(path(idx, "status", "succeeded")) != 3 {
		t.Errorf("idx status: %s", mustJSON(path(idx, "status")))
	}
	if c := jobCondition(idx, "Suspended"); str(c["status"]) != "False" || str(c["reason"]) != "JobResumed" {
		t.Errorf("idx Suspended condition: %s", mustJSON(c))
	}
	seen := map[string]bool{}
	for _, p := range jobPods(a, "idx") {
		i := str(path(p, "metadata", "labels", "batch.kubernetes.io/job-completion-index"))
		var envOK bool
		for _, c := range asList(path(p, "spec", "containers")) {
			for _, e := range asList(path(c, "env")) {
				envOK = envOK || str(path(e, "name")) == "JOB_COMPLETION_INDEX" && str(path(e, "value")) == i
			}
		}
		if !envOK {
			t.Errorf("idx pod %s has no JOB_COMPLETION_INDEX=%s", path(p, "metadata", "name"), i)
		}
		if str(path(p, "spec", "hostname")) != "idx-"+i || str(path(p, "metadata", "annotations", "batch.kubernetes.io/job-completion-index")) != i {
			t.Errorf("idx pod %s: %s", path(p, "metadata", "name"), mustJSON(path(p, "metadata")))
		}
		seen[i] = true
	}
	if !seen["0"] || !seen["1"] || !seen["2"] {
		t.Errorf("idx pods have indexes %v", seen)
	}
}

// TestJobInvalidManifests: the invalid Job and CronJob manifests, and the bad
// input the issue lists, are rejected naming the field; nothing is stored.
func TestJobInvalidManifests(t *testing.T) {
	s := startSystem(t, harness.Options{})
	a := api{t: t, base: s.GatewayURL}
	cases := map[string]struct {
		path, body string
		yaml       bool
		code       int
		field      string
	}{
		"restartPolicy Always":  {path: jobsPath, body: "invalid/job-restart-always.yaml", yaml: true, code: 422, field: "spec.template.spec.restartPolicy"},
		"nested ttl":            {path: jobsPath, body: "invalid/job-ttl-nested.yaml", yaml: true, code: 400, field: "ttlSecondsAfterFinished"},
		"61-minute schedule":    {path: cronJobsPath, body: "invalid/cron-bad-schedule.yaml", yaml: true, code: 422, field: "spec.schedule"},
		"negative completions":  {path: jobsPath, body: jobJSON(`"completions":-1`, "Never"), code: 422, field: "spec.completions"},
		"negative parallelism":  {path: jobsPath, body: jobJSON(`"parallelism":-1`, "Never"), code: 422, field: "spec.parallelism"},
		"negative backoffLimit": {path: jobsPath, body: jobJSON(`"backoffLimit":-1`, "Never"), code: 422, field: "spec.backoffLimit"},
		"podFailurePolicy with OnFailure": {path: jobsPath, code: 422, field: "spec.template.spec.restartPolicy",
			body: jobJSON(`"podFailurePolicy":{"rules":[{"action":"FailJob","onExitCodes":{"operator":"In","values":[42]}}]}`, "OnFailure")},
		"cronjob name over 52": {path: cronJobsPath, code: 422, field: "metadata.name",
			body: `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"` + strings.Repeat("a", 53) + `"},"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox"}]}}}}}}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a := api{t: t, base: a.base}
			body, ctype := []byte(tc.body), "application/json"
			if tc.yaml {
				body, ctype = readManifest(t, tc.body), "application/yaml"
			}
			st := a.expect(a.do(http.MethodPost, tc.path, ctype, body), tc.code, name)
			if str(st["kind"]) != "Status" || !strings.Contains(str(st["message"]), tc.field) {
				t.Fatalf("Status does not name %s: %s", tc.field, mustJSON(st))
			}
		})
	}
	// batch/v1beta1: rejected with a message that says to use batch/v1.
	beta := strings.Replace(string(readManifest(t, "cronjob-hello.yaml")), "batch/v1", "batch/v1beta1", 1)
	for _, p := range []string{"/apis/batch/v1beta1/namespaces/default/cronjobs", cronJobsPath} {
		r := a.do(http.MethodPost, p, "application/yaml", []byte(beta))
		if r.Code < 400 || !strings.Contains(string(r.Body), "use apiVersion batch/v1") {
			t.Errorf("POST v1beta1 to %s: %d %s", p, r.Code, r.Body)
		}
	}
	if n := len(items(a.mustGet("/apis/batch/v1/jobs"))) + len(items(a.mustGet("/apis/batch/v1/cronjobs"))); n != 0 {
		t.Fatalf("rejected manifests stored %d objects", n)
	}
	// Discovery (kubectl api-resources) names the batch resources and pods/log.
	names := map[string]bool{}
	for _, r := range asList(a.mustGet("/apis/batch/v1")["resources"]) {
		names[str(path(r, "name"))] = true
	}
	for _, r := range asList(a.mustGet("/api/v1")["resources"]) {
		names[str(path(r, "name"))] = true
	}
	for _, want := range []string{"jobs", "jobs/status", "cronjobs", "cronjobs/status", "pods/log"} {
		if !names[want] {
			t.Errorf("discovery lacks %s: %v", want, names)
		}
	}
}

// jobJSON is a minimal Job with extra spec fields.
func jobJSON(extra, restartPolicy string) string {
	return `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"bad"},"spec":{` + extra +
		`,"template":{"spec":{"restartPolicy":"` + restartPolicy + `","containers":[{"name":"c","image":"busybox"}]}}}}`
}
