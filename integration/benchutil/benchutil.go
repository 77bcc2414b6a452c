// Package benchutil holds what the benchmark commands (integration/bench,
// bench_job, bench_statefulset, bench_watch) share: CPU-seconds and memory of
// processes from /proc, the Postgres server's CPU and processes, figures with their
// medians over runs, and polling, paging and fan-out helpers.
package benchutil

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

const clockTicks = 100.0 // USER_HZ on Linux

// stat returns the fields of /proc/<pid>/stat after the command name (field 3 on).
func stat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil
	}
	return strings.Fields(s[i+2:])
}

// ticks sums the given stat fields (0-based after the command name) as seconds.
func ticks(fields []string, idx ...int) float64 {
	total := 0.0
	for _, i := range idx {
		if i < len(fields) {
			v, _ := strconv.ParseFloat(fields[i], 64)
			total += v / clockTicks
		}
	}
	return total
}

// CPUSeconds sums user+system CPU time of the running processes.
func CPUSeconds(pids []int) float64 {
	total := 0.0
	for _, pid := range pids {
		total += ticks(stat(pid), 11, 12) // utime, stime
	}
	return total
}

// CPUSecondsByProgram is CPUSeconds per program (the base name of the executable,
// e.g. podwarden-statefulset).
func CPUSecondsByProgram(pids []int) map[string]float64 {
	out := map[string]float64{}
	for _, pid := range pids {
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(string(cmd), "\x00")
		out[filepath.Base(name)] += CPUSeconds([]int{pid})
	}
	return out
}

// SelfCPUSeconds is this process's CPU time (the benchmark's clients, and the
// harness's embedded NATS server).
func SelfCPUSeconds() float64 { return CPUSeconds([]int{os.Getpid()}) }

// MachineBusySeconds is the CPU time the whole machine has spent busy (every CPU,
// every process: /proc/stat's first line without idle and iowait). Less what the
// benchmark accounts for, it is what other work on the machine took meanwhile.
func MachineBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	// user nice system idle iowait irq softirq steal (guest time is in user already)
	return ticks(f[1:], 0, 1, 2, 5, 6, 7)
}

// PeakRSSKiB sums VmHWM (peak resident set, KiB) of the processes.
func PeakRSSKiB(pids []int) int {
	total := 0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				v, _ := strconv.Atoi(strings.Fields(line)[1])
				total += v
			}
		}
	}
	return total
}

// PostgresCPUSeconds is the CPU time of the Postgres server at dsn: its postmaster
// (the postgres process started with -p <the DSN's port>), including the backends
// it has already reaped, plus its live children. Other Postgres servers on the
// machine (other people's tests) are not counted. When no such postmaster is
// found (a server not started by shared/devenv), it falls back to every postgres
// process on the machine.
func PostgresCPUSeconds(dsn string) float64 {
	port := ""
	if u, err := url.Parse(dsn); err == nil {
		port = u.Port()
	}
	pm, all := postmaster(port)
	if pm == 0 {
		return CPUSeconds(all)
	}
	total := ticks(stat(pm), 11, 12, 13, 14) // utime, stime, cutime, cstime
	for _, pid := range all {
		if f := stat(pid); len(f) > 1 && f[1] == strconv.Itoa(pm) {
			total += CPUSeconds([]int{pid})
		}
	}
	return total
}

// postmaster finds the postgres process started with -p port (0 when there is
// none) and lists every postgres process.
func postmaster(port string) (int, []int) {
	pm := 0
	var all []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		all = append(all, pid)
		if port == "" || pm != 0 {
			continue
		}
		cmd, _ := os.ReadFile(d + "/cmdline")
		args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
		for i, a := range args {
			if (a == "-p" && i+1 < len(args) && args[i+1] == port) || a == "-p"+port {
				pm = pid
			}
		}
	}
	return pm, all
}

// Figure is one measured value.
type Figure struct {
	Name  string
	Value float64
	Unit  string
}

// Run is the figures of one run, in the order they were measured.
type Run []Figure

// Add appends a figure.
func (r *Run) Add(name string, v float64, unit string) {
	*r = append(*r, Figure{Name: name, Value: v, Unit: unit})
}

// Get returns the figure of that name (ok false when there is none).
func (r Run) Get(name string) (Figure, bool) {
	for _, f := range r {
		if f.Name == name {
			return f, true
		}
	}
	return Figure{}, false
}

// Medians is, for every figure of the first run, the median over the runs that
// have it, and its values in run order.
func Medians(runs []Run) (Run, [][]float64) {
	if len(runs) == 0 {
		return nil, nil
	}
	var out Run
	var per [][]float64
	for _, f := range runs[0] {
		var vals []float64
		for _, r := range runs {
			if g, ok := r.Get(f.Name); ok {
				vals = append(vals, g.Value)
			}
		}
		f.Value = Median(append([]float64(nil), vals...))
		out = append(out, f)
		per = append(per, vals)
	}
	return out, per
}

// Median of v (v is sorted in place).
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Format prints v with three significant digits or so (no decimals from 100 up,
// none for whole numbers).
func Format(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// Parallel runs fn(0..n-1) with at most width at once and returns the first error.
func Parallel(n, width int, fn func(i int) error) error {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// Poll calls cond every interval until it reports true, the timeout passes or ctx
// ends.
func Poll(ctx context.Context, timeout, interval time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s (last error: %v)", what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// Uptime is /proc/loadavg's three load averages, for the report.
func Uptime() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Durability says how durable the Postgres at dsn is (fsync and synchronous_commit),
// for the first line of a benchmark's output: headline figures are measured with
// Postgres as durable as make run's.
func Durability(dsn string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer conn.Close(ctx)
	var fsync, syncCommit string
	if err := conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &syncCommit); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	if fsync == "on" && syncCommit != "off" {
		return "durable (fsync on, synchronous_commit " + syncCommit + ", as make run)"
	}
	return "NOT durable (fsync " + fsync + ", synchronous_commit " + syncCommit + "): not comparable with make run; run under withpg -durable"
}

// PostgresPIDs lists the processes of the Postgres server at dsn: its postmaster
// and its live children (nil when no such postmaster is found).
func PostgresPIDs(dsn string) []int {
	port := ""
	if u, err := url.Parse(dsn); err == nil {
		port = u.Port()
	}
	pm, all := postmaster(port)
	if pm == 0 {
		return nil
	}
	pids := []int{pm}
	for _, pid := range all {
		if f := stat(pid); len(f) > 1 && f[1] == strconv.Itoa(pm) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// PSSKiB sums the proportional set size (KiB) of the processes: their resident
// memory with each shared page divided among the processes that map it, so
// Postgres's shared buffers count once however many backends map them.
func PSSKiB(pids []int) int {
	total := 0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
				v, _ := strconv.Atoi(f[1])
				total += v
				break
			}
		}
	}
	return total
}

// MemoryPeak samples the summed PSSKiB of the processes that pids returns every
// interval until Stop, and keeps the highest sum: the peak memory of a whole system
// (a sum of each process's own peak would add peaks that never coincided).
type MemoryPeak struct {
	stop chan struct{}
	done chan struct{}
	peak int
}

// SampleMemory starts sampling.
func SampleMemory(interval time.Duration, pids func() []int) *MemoryPeak {
	m := &MemoryPeak{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			m.peak = max(m.peak, PSSKiB(pids()))
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// Stop takes a last sample and returns the peak in MiB.
func (m *MemoryPeak) Stop() float64 {
	close(m.stop)
	<-m.done
	return float64(m.peak) / 1024
}

// ListAll pages through a list: page is called with "" and then with each continue
// token it returns, until it returns none, and the items of every page are joined.
func ListAll[T any](page func(cont string) ([]T, string, error)) ([]T, error) {
	var all []T
	cont := ""
	for {
		items, next, err := page(cont)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		cont = next
	}
}
