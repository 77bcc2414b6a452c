// Command bench_watch measures what clients feel of the watch cache, on a whole system
// started like the integration tests (real processes, Postgres, NATS): with N pods
// Running, the seconds and bytes of a client-go informer's initial sync of every pod
// through the gateway, the seconds of `kubectl get pods -A` (kubectl pages by 500),
// and the node service's resident memory. It prints the median of each figure over
// -runs runs, with the runs.
//
//	go run ./shared/devenv/withpg -- go run ./integration/bench_watch -runs 3
//
// The services are built from the workspace around the working directory, so running
// the binary from another checkout measures that checkout's services.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"
)

type config struct {
	runs, pods, nodes int
	timeout           time.Duration
}

func main() {
	var cfg config
	flag.IntVar(&cfg.runs, "runs", 3, "runs; each figure is the median over them")
	flag.IntVar(&cfg.pods, "pods", 10000, "bare pods to create")
	flag.IntVar(&cfg.nodes, "nodes", 0, "simulated nodes (default: enough for every pod at 110 a node, plus the control-plane)")
	flag.DurationVar(&cfg.timeout, "timeout", 15*time.Minute, "how long a run may take")
	flag.Parse()
	if cfg.nodes == 0 {
		cfg.nodes = (cfg.pods+109)/110 + 1
	}
	dsn := os.Getenv("PODWARDEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		fmt.Fprintln(os.Stderr, "bench_watch: PODWARDEN_TEST_POSTGRES_DSN is not set; run it through shared/devenv/withpg (make bench)")
		os.Exit(2)
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		fail(fmt.Errorf("kubectl is not on PATH"))
	}
	dir, err := os.MkdirTemp("", "podwarden-bench-watch-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	bins, err := harness.Build(filepath.Join(dir, "bin"))
	if err != nil {
		fail(err)
	}
	var runs []benchutil.Run
	loads := []string{benchutil.Uptime()}
	for i := range cfg.runs {
		r, err := run(cfg, bins, dsn, kubectl, filepath.Join(dir, fmt.Sprintf("run%d", i+1)))
		if err != nil {
			fail(fmt.Errorf("run %d: %w", i+1, err))
		}
		runs = append(runs, r)
		load := benchutil.Uptime()
		loads = append(loads, load)
		fmt.Fprintf(os.Stderr, "run %d (load %s):", i+1, load)
		for _, f := range r {
			fmt.Fprintf(os.Stderr, " %s=%s", f.Name, benchutil.Format(f.Value))
		}
		fmt.Fprintln(os.Stderr)
	}
	fmt.Printf("# %d pods Running on %d nodes; medians of %d runs (then the runs)\n", cfg.pods, cfg.nodes, cfg.runs)
	fmt.Printf("# load averages (1/5/15 min) before and after each run: %s\n", strings.Join(loads, " | "))
	medians, per := benchutil.Medians(runs)
	for i, f := range medians {
		var vs []string
		for _, v := range per[i] {
			vs = append(vs, benchutil.Format(v))
		}
		fmt.Printf("%s %s %s (runs: %s)\n", f.Name, benchutil.Format(f.Value), f.Unit, strings.Join(vs, " / "))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench_watch:", err)
	os.Exit(1)
}

// countingTransport counts the bytes of the response bodies.
type countingTransport struct {
	next  http.RoundTripper
	bytes atomic.Int64
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		resp.Body = countingBody{resp.Body, &t.bytes}
	}
	return resp, err
}

func run(cfg config, bins map[string]string, dsn, kubectl, dir string) (benchutil.Run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	s, err := harness.Start(ctx, bins, dsn, filepath.Join(dir, "nats"), harness.Options{Nodes: cfg.nodes, Env: []string{"PODWARDEN_LOG_LEVEL=warn"}, LogDir: filepath.Join(dir, "logs")})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.GatewayURL, QPS: 1000, Burst: 1000})
	err = benchutil.Parallel(cfg.pods, 16, func(i int) error {
		_, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%05d", i), Labels: map[string]string{"app": "bench"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create pods: %w", err)
	}
	err = benchutil.Poll(ctx, cfg.timeout, time.Second, "every pod Running", func() (bool, error) {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"})
		if err != nil {
			return false, err
		}
		return len(list.Items) == cfg.pods, nil
	})
	if err != nil {
		return nil, err
	}
	var r benchutil.Run

	// A client-go informer's initial sync (list, then watch).
	tr := &countingTransport{next: http.DefaultTransport}
	icfg := &rest.Config{Host: s.GatewayURL, QPS: 1000, Burst: 1000, Transport: tr}
	ics := kubernetes.NewForConfigOrDie(icfg)
	f := informers.NewSharedInformerFactory(ics, 0)
	inf := f.Core().V1().Pods().Informer()
	stop := make(chan struct{})
	start := time.Now()
	f.Start(stop)
	for _, ok := range f.WaitForCacheSync(stop) {
		if !ok {
			close(stop)
			return nil, fmt.Errorf("the informer did not sync")
		}
	}
	r.Add("informer_sync_seconds", time.Since(start).Seconds(), "s")
	r.Add("informer_sync_mib", float64(tr.bytes.Load())/(1<<20), "MiB")
	if n := len(inf.GetStore().List()); n < cfg.pods {
		close(stop)
		return nil, fmt.Errorf("the informer has %d pods, want %d", n, cfg.pods)
	}
	close(stop)

	// kubectl get pods -A (a server-side Table, paged by 500).
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: p\n  cluster:\n    server: %s\ncontexts:\n- name: p\n  context:\n    cluster: p\ncurrent-context: p\n", s.GatewayURL)), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kc, "--cache-dir", filepath.Join(dir, "kcache"), "get", "pods", "-A")
	start = time.Now()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl get pods -A: %w", err)
	}
	r.Add("kubectl_get_pods_seconds", time.Since(start).Seconds(), "s")
	if lines := strings.Count(string(out), "\n"); lines < cfg.pods+1 {
		return nil, fmt.Errorf("kubectl get pods -A printed %d lines", lines)
	}
	var pids []int
	for _, p := range s.Procs("node") {
		pids = append(pids, p.PID())
	}
	r.Add("node_service_peak_rss_mib", float64(benchutil.PeakRSSKiB(pids))/1024, "MiB")
	return r, nil
}
