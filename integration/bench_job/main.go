// Command bench_job measures the Job path on a whole system started like the
// integration tests (real processes, Postgres, NATS as a process of its own), zero
// simulated delays: -jobs Jobs (1,000) of -completions (5) zero-duration pods each,
// -parallelism (5) at a time, created by 16 clients at once; seconds until every Job
// is Complete, the pods completed per second over that time (job_pods_per_s), and
// CPU-seconds of the services, NATS and Postgres per 1,000 pods. Each run is on a
// fresh system; it prints the median of each figure over -runs runs, with the runs.
//
//	go run ./shared/devenv/withpg -durable -- go run ./integration/bench_job -runs 3
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

type config struct {
	runs, jobs, completions, parallelism, nodes, nodePods int
	interval, timeout                                     time.Duration
}

func main() {
	var cfg config
	flag.IntVar(&cfg.runs, "runs", 3, "runs, each on a fresh system; each figure is the median over them")
	flag.IntVar(&cfg.jobs, "jobs", 1000, "Jobs")
	flag.IntVar(&cfg.completions, "completions", 5, "completions of each Job")
	flag.IntVar(&cfg.parallelism, "parallelism", 5, "parallelism of each Job")
	flag.IntVar(&cfg.nodes, "nodes", 11, "simulated nodes: the control-plane (tainted) and nodes-1 workers")
	flag.IntVar(&cfg.nodePods, "node-pods", 1000, "pods a node holds (PODWARDEN_SIM_NODE_PODS), so that every Job's pods run at once")
	flag.DurationVar(&cfg.interval, "interval", 250*time.Millisecond, "poll interval")
	flag.DurationVar(&cfg.timeout, "timeout", 20*time.Minute, "how long a run may take")
	flag.Parse()
	dsn := os.Getenv("PODWARDEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		fmt.Fprintln(os.Stderr, "bench_job: PODWARDEN_TEST_POSTGRES_DSN is not set; run it through shared/devenv/withpg (make bench)")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "podwarden-bench-job-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	bins, err := harness.Build(filepath.Join(dir, "bin"))
	if err != nil {
		fail(err)
	}
	natsBin, err := harness.BuildNATS(filepath.Join(dir, "bin"))
	if err != nil {
		fail(err)
	}
	fmt.Printf("# postgres: %s\n", benchutil.Durability(dsn))
	var results []benchutil.Run
	loads := []string{benchutil.Uptime()}
	for i := range cfg.runs {
		r, err := runOnce(cfg, bins, natsBin, dsn, filepath.Join(dir, fmt.Sprintf("run%d", i+1)))
		if err != nil {
			fail(fmt.Errorf("run %d: %w", i+1, err))
		}
		results = append(results, r)
		loads = append(loads, benchutil.Uptime())
		fmt.Fprintf(os.Stderr, "run %d:", i+1)
		for _, f := range r {
			fmt.Fprintf(os.Stderr, " %s=%s", f.Name, benchutil.Format(f.Value))
		}
		fmt.Fprintln(os.Stderr)
	}
	fmt.Printf("# %d Jobs x %d completions, parallelism %d, on %d workers; medians of %d runs (then the runs), each on a fresh system\n",
		cfg.jobs, cfg.completions, cfg.parallelism, cfg.nodes-1, cfg.runs)
	fmt.Printf("# load averages (1/5/15 min) before and after each run: %s\n", strings.Join(loads, " | "))
	medians, per := benchutil.Medians(results)
	for i, f := range medians {
		vals := make([]string, len(per[i]))
		for j, v := range per[i] {
			vals[j] = benchutil.Format(v)
		}
		fmt.Printf("%s %s %s (runs: %s)\n", f.Name, benchutil.Format(f.Value), f.Unit, strings.Join(vals, " / "))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench_job:", err)
	os.Exit(1)
}

func jobName(i int) string { return fmt.Sprintf("bench-%04d", i) }

func runOnce(cfg config, bins map[string]string, natsBin, dsn, dir string) (benchutil.Run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout+2*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, bins, dsn, filepath.Join(dir, "nats"), harness.Options{Nodes: cfg.nodes, NATSBinary: natsBin,
		Env: []string{"PODWARDEN_LOG_LEVEL=warn", fmt.Sprintf("PODWARDEN_SIM_NODE_PODS=%d", cfg.nodePods)}, LogDir: filepath.Join(dir, "logs")})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	jobs := jobv1.NewJobServiceClient(s.Conn("job"))
	var out benchutil.Run
	byProgram0, pg0 := benchutil.CPUSecondsByProgram(s.PIDs()), benchutil.PostgresCPUSeconds(dsn)

	start := time.Now()
	if err := benchutil.Parallel(cfg.jobs, 16, func(i int) error {
		_, err := jobs.CreateJob(ctx, &jobv1.CreateJobRequest{Namespace: "default", Job: &jobv1.Job{
			Metadata: &corev1.ObjectMeta{Name: jobName(i)},
			Spec: &jobv1.JobSpec{Completions: proto.Int32(int32(cfg.completions)), Parallelism: proto.Int32(int32(cfg.parallelism)),
				Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{RestartPolicy: "Never",
					Containers: []*corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "exit 0"}}}}}},
		}})
		return err
	}); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	created := time.Since(start)
	progress := ""
	if err := benchutil.Poll(ctx, cfg.timeout, cfg.interval, "every Job Complete", func() (bool, error) {
		items, err := benchutil.ListAll(func(cont string) ([]*jobv1.Job, string, error) {
			req := &jobv1.ListJobsRequest{Namespace: "default", Limit: 5000, Continue: cont}
			if cont == "" {
				req.ResourceVersion = "0" // any state the cache has: no consistent read for a poll
			}
			r, err := jobs.ListJobs(ctx, req, grpc.MaxCallRecvMsgSize(256<<20))
			return r.GetItems(), r.GetMetadata().GetContinue(), err
		})
		if err != nil {
			return false, err
		}
		done, succeeded := 0, 0
		for _, j := range items {
			succeeded += int(j.GetStatus().GetSucceeded())
			for _, c := range j.GetStatus().GetConditions() {
				if c.GetType() == "Complete" && c.GetStatus() == "True" {
					done++
				}
			}
		}
		progress = fmt.Sprintf("%d/%d Jobs Complete, %d pods succeeded", done, cfg.jobs, succeeded)
		return done == cfg.jobs, nil
	}); err != nil {
		return nil, fmt.Errorf("%w: %s\n%s", err, progress, s.Logs(3000))
	}
	total := time.Since(start).Seconds()
	pods := float64(cfg.jobs * cfg.completions)
	byProgram, pg := benchutil.CPUSecondsByProgram(s.PIDs()), benchutil.PostgresCPUSeconds(dsn)-pg0
	cpu := 0.0
	for _, prog := range slices.Sorted(maps.Keys(byProgram)) {
		cpu += byProgram[prog] - byProgram0[prog]
	}
	out.Add("job_pods_per_s", pods/total, "pods/s")
	out.Add("job_all_complete_seconds", total, "s")
	out.Add("job_create_seconds", created.Seconds(), "s")
	out.Add("job_cpu_per_1000_pods", (cpu+pg)*1000/pods, "cpu-s")
	out.Add("job_services_cpu_seconds", cpu, "cpu-s")
	out.Add("job_postgres_cpu_seconds", pg, "cpu-s")
	for _, prog := range slices.Sorted(maps.Keys(byProgram)) {
		name := strings.TrimSuffix(strings.TrimPrefix(prog, "podwarden-"), "-server") // nats-server: nats
		out.Add("job_cpu_per_1000_pods_"+name, (byProgram[prog]-byProgram0[prog])*1000/pods, "cpu-s")
	}
	out.Add("job_cpu_per_1000_pods_postgres", pg*1000/pods, "cpu-s")
	out.Add("job_services_peak_rss_mib", float64(benchutil.PeakRSSKiB(s.PIDs()))/1024, "MiB")
	return out, nil
}
