// Command bench_daemonset measures a DaemonSet over a large simulated fleet, on a
// whole system started like the integration tests (real processes, Postgres, NATS):
// seconds until every node runs a Ready daemon pod, seconds for a rolling update
// with maxUnavailable 10%, CPU-seconds of every podwarden process (and Postgres)
// per phase, and peak memory.
//
//	go run ./shared/devenv/withpg -- go run ./integration/bench_daemonset -nodes 1000
//
// The daemon pods use hostNetwork (as node agents do). The harness gives a fleet
// of more than 256 nodes the address plan PODWARDEN_CLUSTER_CIDR=10.0.0.0/8.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/podwarden/podwarden/integration/benchutil"
	"github.com/podwarden/podwarden/integration/harness"
)

func main() {
	nodes := flag.Int("nodes", 1000, "worker nodes (plus the tainted control plane, which gets no pod)")
	maxUnavailable := flag.String("max-unavailable", "10%", "maxUnavailable of the rolling update")
	timeout := flag.Duration("timeout", 15*time.Minute, "how long a phase may take")
	flag.Parse()
	dsn := os.Getenv("PODWARDEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		fmt.Fprintln(os.Stderr, "bench_daemonset: PODWARDEN_TEST_POSTGRES_DSN is not set; run it through shared/devenv/withpg")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "podwarden-bench-ds-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	bins, err := harness.Build(filepath.Join(dir, "bin"))
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3**timeout)
	defer cancel()
	start := time.Now()
	s, err := harness.Start(ctx, bins, dsn, filepath.Join(dir, "nats"), harness.Options{Nodes: *nodes + 1,
		Env: []string{"PODWARDEN_LOG_LEVEL=warn"}, LogDir: filepath.Join(dir, "logs")})
	if err != nil {
		fail(err)
	}
	defer s.Stop()
	fmt.Printf("# DaemonSet over %d simulated nodes (system up in %.1fs)\n", *nodes, time.Since(start).Seconds())
	c := client{base: s.GatewayURL}

	cpu0, pg0 := benchutil.CPUSeconds(s.PIDs()), benchutil.PostgresCPUSeconds(dsn)
	t0 := time.Now()
	ds := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},"spec":{
"selector":{"matchLabels":{"app":"agent"}},
"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":%q,"maxSurge":0}},
"template":{"metadata":{"labels":{"app":"agent"}},"spec":{"hostNetwork":true,"containers":[{"name":"agent","image":"agent:1"}]}}}}`, *maxUnavailable)
	if code, body := c.do(http.MethodPost, "/apis/apps/v1/namespaces/default/daemonsets", "application/json", ds); code != http.StatusCreated {
		fail(fmt.Errorf("create: %d %s", code, body))
	}
	if err := c.waitStatus(*timeout, *nodes, 1); err != nil {
		fail(err)
	}
	ready := time.Since(t0)
	cpu1, pg1 := benchutil.CPUSeconds(s.PIDs()), benchutil.PostgresCPUSeconds(dsn)

	t1 := time.Now()
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"agent","image":"agent:2"}]}}}}`
	if code, body := c.do(http.MethodPatch, "/apis/apps/v1/namespaces/default/daemonsets/agent", "application/merge-patch+json", patch); code != http.StatusOK {
		fail(fmt.Errorf("update: %d %s", code, body))
	}
	if err := c.waitStatus(*timeout, *nodes, 2); err != nil {
		fail(err)
	}
	rollout := time.Since(t1)
	cpu2, pg2 := benchutil.CPUSeconds(s.PIDs()), benchutil.PostgresCPUSeconds(dsn)

	fmt.Printf("daemonset_all_ready_seconds %.1f s\n", ready.Seconds())
	fmt.Printf("daemonset_rolling_update_seconds %.1f s (maxUnavailable %s)\n", rollout.Seconds(), *maxUnavailable)
	fmt.Printf("services_cpu_seconds_create %.1f cpu-s\n", cpu1-cpu0)
	fmt.Printf("services_cpu_seconds_rollout %.1f cpu-s\n", cpu2-cpu1)
	fmt.Printf("postgres_cpu_seconds_create %.1f cpu-s\n", pg1-pg0)
	fmt.Printf("postgres_cpu_seconds_rollout %.1f cpu-s\n", pg2-pg1)
	fmt.Printf("services_peak_rss %.0f MiB\n", float64(benchutil.PeakRSSKiB(s.PIDs()))/1024)
}

type client struct{ base string }

func (c client) do(method, path, ctype, body string) (int, []byte) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader([]byte(body)))
	if err != nil {
		fail(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitStatus polls the DaemonSet until generation gen is observed and every one
// of n nodes runs an updated, available pod.
func (c client) waitStatus(timeout time.Duration, n, gen int) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		code, body := c.do(http.MethodGet, "/apis/apps/v1/namespaces/default/daemonsets/agent", "", "")
		if code == http.StatusOK {
			var ds struct {
				Metadata struct{ Generation json.Number }
				Status   struct {
					ObservedGeneration     json.Number
					DesiredNumberScheduled int
					UpdatedNumberScheduled int
					NumberAvailable        int
				}
			}
			_ = json.Unmarshal(body, &ds)
			st := ds.Status
			if st.ObservedGeneration.String() == strconv.Itoa(gen) && st.DesiredNumberScheduled == n &&
				st.UpdatedNumberScheduled == n && st.NumberAvailable == n {
				return nil
			}
			last = fmt.Sprintf("%+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %v; last status %s", timeout, last)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench_daemonset:", err)
	os.Exit(1)
}
