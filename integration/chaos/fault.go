package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podwarden/podwarden/integration/harness"
	"github.com/podwarden/podwarden/shared/devenv"
)

// Fault kinds, as the report counts them.
const (
	faultKillService  = "kill-service"
	faultKillGateway  = "kill-gateway"
	faultStop         = "sigstop-service"
	faultKillNATS     = "kill-nats"
	faultKillPostgres = "kill-postgres"
)

// fault is one planned fault: everything random is drawn from the trial's seed when
// the trial starts, so the seed alone reproduces the plan.
type fault struct {
	kind   string
	target string // process name ("deployment-1"), or "nats", "postgres"
	after  time.Duration
	// hold: how long the process stays stopped, or dead before its restart.
	hold time.Duration
}

func (f fault) String() string {
	return fmt.Sprintf("%s %s at +%.1fs for %.1fs", f.kind, f.target, f.after.Seconds(), f.hold.Seconds())
}

// planFault draws a fault: a service replica killed (half the time), stopped, the
// gateway killed, the NATS server or Postgres killed. A replica is, half the time, one
// of the service that runs the workload's controller (own), else any.
func planFault(r *rand.Rand, procs []string, own string) fault {
	f := fault{after: time.Duration(r.IntN(2000)) * time.Millisecond, hold: time.Duration(r.IntN(2000)) * time.Millisecond}
	switch n := r.IntN(20); {
	case n < 10:
		f.kind = faultKillService
	case n < 14:
		f.kind, f.hold = faultStop, time.Duration(1000+r.IntN(4000))*time.Millisecond
	case n < 16:
		f.kind, f.target = faultKillGateway, "gateway"
	case n < 18:
		f.kind, f.target = faultKillNATS, "nats"
	default:
		f.kind, f.target = faultKillPostgres, "postgres"
	}
	if f.target == "" {
		var mine []string
		for _, p := range procs {
			if strings.HasPrefix(p, own+"-") {
				mine = append(mine, p)
			}
		}
		if r.IntN(2) == 0 && len(mine) > 0 {
			procs = mine
		}
		f.target = procs[r.IntN(len(procs))]
	}
	return f
}

// serviceProcs names every running service replica ("node-0", "deployment-1"), sorted.
func serviceProcs(s *harness.System) []string {
	var out []string
	for _, name := range harness.Services {
		for _, p := range s.Procs(name) {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}

func findProc(s *harness.System, target string) (string, *harness.Proc) {
	service := target[:strings.LastIndexByte(target, '-')]
	for _, p := range s.Procs(service) {
		if p.Name == target {
			return service, p
		}
	}
	return service, nil
}

// inject applies a fault and undoes it (restarts what it killed, continues what it
// stopped); it returns when the system is whole again.
func (c *runner) inject(ctx context.Context, f fault) error {
	select {
	case <-time.After(f.after):
	case <-ctx.Done():
		return ctx.Err()
	}
	s := c.sys
	switch f.kind {
	case faultKillService:
		service, p := findProc(s, f.target)
		if p == nil {
			return fmt.Errorf("no process %s", f.target)
		}
		s.KillProc(p)
		time.Sleep(f.hold)
		_, err := s.StartService(service, p.Replica())
		return err
	case faultStop:
		_, p := findProc(s, f.target)
		if p == nil {
			return fmt.Errorf("no process %s", f.target)
		}
		if err := syscall.Kill(-p.PID(), syscall.SIGSTOP); err != nil {
			return err
		}
		time.Sleep(f.hold)
		return syscall.Kill(-p.PID(), syscall.SIGCONT)
	case faultKillGateway:
		return s.RestartGateway()
	case faultKillNATS:
		return s.RestartNATS(f.hold)
	case faultKillPostgres:
		return c.restartPostgres(ctx, f.hold)
	}
	return fmt.Errorf("unknown fault %q", f.kind)
}

// restartPostgres kills the postmaster with SIGKILL (its backends exit when they see
// it gone), waits, and starts the same cluster again on the same port.
func (c *runner) restartPostgres(ctx context.Context, pause time.Duration) error {
	data, err := os.ReadFile(filepath.Join(c.pgDir, "postmaster.pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]))
	if err != nil {
		return fmt.Errorf("postmaster.pid: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	time.Sleep(pause)
	deadline := time.Now().Add(60 * time.Second)
	for {
		// The old backends may still hold the shared memory a moment: try again.
		pg, err := devenv.StartPostgres(ctx, devenv.PostgresConfig{Dir: c.pgDir, Port: c.pg.Port, Durable: true})
		if err == nil {
			c.pg = pg
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restart postgres: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
