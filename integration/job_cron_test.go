package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
)

func cronJobs(a api) []map[string]any {
	var out []map[string]any
	for _, j := range items(a.mustGet(jobsPath)) {
		for _, o := range asList(path(j, "metadata", "ownerReferences")) {
			if str(path(o, "kind")) == "CronJob" && str(path(o, "name")) == "hello" {
				out = append(out, j)
			}
		}
	}
	return out
}

func scheduledJobs(a api) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, j := range cronJobs(a) {
		if str(path(j, "metadata", "annotations", "cronjob.kubernetes.io/instantiate")) != "manual" {
			out[str(path(j, "metadata", "name"))] = j
		}
	}
	return out
}

func complete(j map[string]any) bool {
	c := jobCondition(j, "Complete")
	return c != nil && str(c["status"]) == "True"
}

// TestCronJobUserStory is the user story for CronJobs: cronjob-hello
// runs one Job per minute named hello-<minutes since epoch>; a manual trigger
// creates a Job annotated instantiate=manual whose pod logs the greeting; the
// history keeps 3 successful Jobs; a kill -9 of the job service while a run is
// due loses nothing and starts it once; suspend and resume are spec updates.
func TestCronJobUserStory(t *testing.T) {
	s := startSystem(t, harness.Options{Env: jobEnv})
	a := api{t: t, base: s.GatewayURL}
	a.expect(a.do(http.MethodPost, cronJobsPath, "application/yaml", readManifest(t, "cronjob-hello.yaml")), http.StatusCreated, "create hello")
	cj := a.mustGet(cronJobsPath + "/hello")
	if str(path(cj, "spec", "concurrencyPolicy")) != "Forbid" || num(path(cj, "spec", "successfulJobsHistoryLimit")) != 3 || path(cj, "spec", "suspend") != false {
		t.Errorf("hello spec: %s", mustJSON(path(cj, "spec")))
	}

	// Manual trigger, like `kubectl create job --from=cronjob/hello`.
	r := a.do(http.MethodPost, cronJobsPath+"/hello/trigger", "application/json", []byte(`{"jobName":"hello-manual-1"}`))
	if r.Code != http.StatusOK && r.Code != http.StatusCreated {
		t.Fatalf("trigger: %d %s", r.Code, r.Body)
	}
	manual := r.JSON()
	if str(path(manual, "metadata", "name")) != "hello-manual-1" || str(path(manual, "metadata", "annotations", "cronjob.kubernetes.io/instantiate")) != "manual" {
		t.Fatalf("triggered job: %s", r.Body)
	}
	waitJobCondition(t, a, "hello-manual-1", "Complete", 30*time.Second)
	pods := jobPods(a, "hello-manual-1")
	if len(pods) != 1 {
		t.Fatalf("hello-manual-1 pods: %d", len(pods))
	}
	logText := string(a.get(podsPath + "/" + str(path(pods[0], "metadata", "name")) + "/log?container=hello").Body)
	if !strings.Contains(logText, "Hello from the Kubernetes cluster") || !strings.Contains(logText, "UTC") {
		t.Errorf("hello log = %q", logText)
	}

	// The first scheduled run: hello-<scheduled unix time / 60>.
	var first string
	eventually(t, 75*time.Second, "a scheduled run", func() (bool, string) {
		for name, j := range scheduledJobs(a) {
			ts, err := time.Parse(time.RFC3339, str(path(j, "metadata", "annotations", "batch.kubernetes.io/cronjob-scheduled-timestamp")))
			if err != nil || name != fmt.Sprintf("hello-%d", ts.Unix()/60) {
				t.Fatalf("scheduled job %s: %s", name, mustJSON(path(j, "metadata")))
			}
			first = name
			return true, ""
		}
		return false, ""
	})
	eventually(t, 30*time.Second, first+" complete and recorded", func() (bool, string) {
		cj := a.mustGet(cronJobsPath + "/hello")
		return complete(a.mustGet(jobsPath+"/"+first)) && path(cj, "status", "lastScheduleTime") != nil &&
			path(cj, "status", "lastSuccessfulTime") != nil && len(asList(path(cj, "status", "active"))) == 0, string(mustJSON(path(cj, "status")))
	})

	// kill -9 of the job service just before the next run is due, restart after it.
	var firstMinute int64
	fmt.Sscanf(strings.TrimPrefix(first, "hello-"), "%d", &firstMinute)
	next := time.Unix((firstMinute+1)*60, 0)
	time.Sleep(time.Until(next.Add(-300 * time.Millisecond))) // waiting for the wall clock's minute, not for a result
	s.Kill("job")
	time.Sleep(time.Until(next.Add(2 * time.Second)))
	if _, err := s.StartService("job", 0); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("hello-%d", firstMinute+1)
	eventually(t, 45*time.Second, want+" after the restart", func() (bool, string) {
		j := scheduledJobs(a)[want]
		return j != nil && complete(j), fmt.Sprint(len(scheduledJobs(a)))
	})
	if n := len(jobPods(a, want)); n != 1 {
		t.Errorf("%s has %d pods after the restart, want 1", want, n)
	}

	// History: more manual runs; only 3 successful Jobs are kept.
	for i := 2; i <= 5; i++ {
		r := a.do(http.MethodPost, cronJobsPath+"/hello/trigger", "application/json", []byte(fmt.Sprintf(`{"jobName":"hello-manual-%d"}`, i)))
		if r.Code != http.StatusOK && r.Code != http.StatusCreated {
			t.Fatalf("trigger %d: %d %s", i, r.Code, r.Body)
		}
		waitJobCondition(t, a, fmt.Sprintf("hello-manual-%d", i), "Complete", 30*time.Second)
	}
	eventually(t, 30*time.Second, "history trimmed to 3", func() (bool, string) {
		var names []string
		for _, j := range cronJobs(a) {
			names = append(names, str(path(j, "metadata", "name")))
		}
		return len(names) == 3, strings.Join(names, ",")
	})

	// Suspend and resume.
	for _, v := range []bool{true, false} {
		got := a.expect(a.mergePatch(cronJobsPath+"/hello", fmt.Sprintf(`{"spec":{"suspend":%v}}`, v)), http.StatusOK, "suspend")
		if path(got, "spec", "suspend") != v {
			t.Errorf("suspend = %v, want %v", path(got, "spec", "suspend"), v)
		}
	}

	// Logs: follow streams until the container ends; tailLines; previous.
	a.expect(a.postJSON(jobsPath, map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "talk"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"restartPolicy": "Never",
			"containers": []any{map[string]any{"name": "c", "image": "busybox", "command": []string{"sh", "-c", "echo one; echo two; sleep 20; echo three"}}}}}}}),
		http.StatusCreated, "create talk")
	var pod string
	eventually(t, 30*time.Second, "talk pod running", func() (bool, string) {
		for _, p := range jobPods(a, "talk") {
			if str(path(p, "status", "phase")) == "Running" {
				pod = str(path(p, "metadata", "name"))
				return true, ""
			}
		}
		return false, ""
	})
	if got := string(a.get(podsPath + "/" + pod + "/log?follow=true").Body); got != "one\ntwo\nthree\n" {
		t.Errorf("follow = %q", got)
	}
	if got := string(a.get(podsPath + "/" + pod + "/log?tailLines=1").Body); got != "three\n" {
		t.Errorf("tailLines=1 = %q", got)
	}
	if r := a.get(podsPath + "/" + pod + "/log?previous=true"); r.Code != http.StatusBadRequest || !strings.Contains(string(r.Body), "previous terminated container") {
		t.Errorf("previous: %d %s", r.Code, r.Body)
	}
}
