package integration

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/integration/harness"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// TestJobBenchmark is the Job benchmark: PODWARDEN_JOB_BENCH Jobs (the
// issue: 1000) x completions 5, parallelism 5, with zero-duration pods; it
// reports the seconds until all are Complete and the CPU-seconds of the
// services. Skipped unless PODWARDEN_JOB_BENCH is set:
//
//	PODWARDEN_JOB_BENCH=1000 go run ./shared/devenv/withpg -- go test -count=1 -timeout 30m ./integration/ -run TestJobBenchmark -v
func TestJobBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PODWARDEN_JOB_BENCH"))
	if n <= 0 {
		t.Skip("set PODWARDEN_JOB_BENCH=<jobs> to run")
	}
	s := startSystem(t, harness.Options{Nodes: 11, Env: []string{"PODWARDEN_LOG_LEVEL=warn", "PODWARDEN_SIM_NODE_PODS=1000"}})
	jobs := jobv1.NewJobServiceClient(s.Conn("job"))
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cpu0 := jobBenchCPU(s.PIDs())
	start := time.Now()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := jobs.CreateJob(ctx, &jobv1.CreateJobRequest{Namespace: "default", Job: &jobv1.Job{
				Metadata: &corev1.ObjectMeta{Name: fmt.Sprintf("bench-%04d", i)},
				Spec: &jobv1.JobSpec{Completions: proto.Int32(5), Parallelism: proto.Int32(5), Template: &corev1.PodTemplateSpec{
					Spec: &corev1.PodSpec{RestartPolicy: "Never", Containers: []*corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "exit 0"}}}}}},
			}})
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	created := time.Since(start).Seconds()
	eventually(t, 20*time.Minute, "all jobs complete", func() (bool, string) {
		time.Sleep(500 * time.Millisecond)
		r, err := jobs.ListJobs(ctx, &jobv1.ListJobsRequest{Namespace: "default"})
		if err != nil {
			return false, err.Error()
		}
		done, succeeded := 0, 0
		for _, j := range r.GetItems() {
			succeeded += int(j.GetStatus().GetSucceeded())
			for _, c := range j.GetStatus().GetConditions() {
				if c.GetType() == "Complete" && c.GetStatus() == "True" {
					done++
				}
			}
		}
		return done == n, fmt.Sprintf("%d/%d complete, %d pods succeeded", done, n, succeeded)
	})
	total := time.Since(start).Seconds()
	fmt.Printf("job_bench jobs=%d completions=5 parallelism=5 create_seconds=%.1f all_complete_seconds=%.1f pods_per_s=%.0f services_cpu_seconds=%.1f\n",
		n, created, total, float64(n*5)/total, jobBenchCPU(s.PIDs())-cpu0)
}

// jobBenchCPU sums user+system CPU seconds of the processes (/proc/<pid>/stat).
func jobBenchCPU(pids []int) float64 {
	total := 0.0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		if len(f) > 12 {
			u, _ := strconv.ParseFloat(f[11], 64)
			k, _ := strconv.ParseFloat(f[12], 64)
			total += (u + k) / 100
		}
	}
	return total
}
