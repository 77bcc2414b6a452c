package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

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
	// A service replica's connections to Postgres (or to every NATS server) cut by
	// its harness.Link for 1-5 s, the process running on.
	faultCutPostgres = "cut-postgres"
	faultCutNATS     = "cut-nats"
	// With Config.HA: the replica that holds the workload's service's lease and one
	// NATS server of the cluster, killed at once; the hand-over is measured.
	faultKillLeaderNATS = "kill-leader+nats-node"
)

// fault is one planned fault: everything random is drawn from the trial's seed when
// the trial starts, so the seed alone reproduces the plan.
type fault struct {
	kind   string
	target string // process name ("deployment-1"), or "nats", "postgres"
	after  time.Duration
	// hold: how long the process stays stopped, or dead before its restart.
	hold time.Duration
	// natsNode is the NATS server killed (HA: one node of the cluster).
	natsNode int
	// service whose leader a kill-leader fault kills.
	service string
}

func (f fault) String() string {
	return fmt.Sprintf("%s %s at +%.1fs for %.1fs", f.kind, f.target, f.after.Seconds(), f.hold.Seconds())
}

// planFault draws a fault: a service replica killed (10 in 24), stopped, cut from
// Postgres or from NATS, the gateway killed, the NATS server or Postgres killed. A replica is, half the time, one
// of the service that runs the workload's controller (own), else any.
//
// With ha (2 replicas of every service, a 3-node NATS cluster) half the faults kill
// the lease holder of the workload's own service and one NATS node at once, and a
// NATS kill is one node's.
func planFault(r *rand.Rand, procs []string, own string, ha bool) fault {
	f := fault{after: time.Duration(r.IntN(2000)) * time.Millisecond, hold: time.Duration(r.IntN(2000)) * time.Millisecond}
	if ha && r.IntN(2) == 0 {
		f.kind, f.service, f.natsNode = faultKillLeaderNATS, own, r.IntN(3)
		f.target = fmt.Sprintf("%s-leader nats-%d", own, f.natsNode)
		return f
	}
	switch n := r.IntN(24); {
	case n < 10:
		f.kind = faultKillService
	case n < 14:
		f.kind, f.hold = faultStop, time.Duration(1000+r.IntN(4000))*time.Millisecond
	case n < 16:
		f.kind, f.target = faultKillGateway, "gateway"
	case n < 18:
		f.kind, f.target = faultKillNATS, "nats"
		if ha {
			f.natsNode = r.IntN(3)
			f.target = fmt.Sprintf("nats-%d", f.natsNode)
		}
	case n < 20:
		f.kind, f.target = faultKillPostgres, "postgres"
	case n < 22:
		f.kind, f.hold = faultCutPostgres, time.Duration(1000+r.IntN(4000))*time.Millisecond
	default:
		f.kind, f.hold = faultCutNATS, time.Duration(1000+r.IntN(4000))*time.Millisecond
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
func (c *runner) inject(ctx context.Context, i int, seed uint64, f fault) error {
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
	case faultCutPostgres, faultCutNATS:
		links := s.Links(f.target, map[string]string{faultCutPostgres: "postgres", faultCutNATS: "nats"}[f.kind])
		if len(links) == 0 {
			return fmt.Errorf("no links of %s", f.target)
		}
		for _, l := range links {
			l.Cut()
		}
		time.Sleep(f.hold)
		for _, l := range links {
			l.Restore()
		}
		return nil
	case faultKillGateway:
		return s.RestartGateway()
	case faultKillNATS:
		if s.NATSNodes() > 1 {
			s.KillNATSNode(f.natsNode)
			time.Sleep(f.hold)
			return s.StartNATSNode(f.natsNode)
		}
		return s.RestartNATS(f.hold)
	case faultKillLeaderNATS:
		return c.killLeader(ctx, i, seed, f)
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

// killLeader kills the replica that holds f.service's lease and NATS node f.natsNode
// at once, measures how long until another replica holds the lease (a violation
// beyond the lease TTL plus a standby's retry period, TTL/4, and 1 s for a loaded
// machine), and restarts both after f.hold.
func (c *runner) killLeader(ctx context.Context, i int, seed uint64, f fault) error {
	s := c.sys
	holder, err := c.leaseHolder(ctx, f.service)
	if err != nil {
		return err
	}
	service, p := findProc(s, holder)
	if p == nil {
		return fmt.Errorf("the lease holder of %s is %q, no running process", f.service, holder)
	}
	killed := time.Now()
	s.KillProc(p)
	s.KillNATSNode(f.natsNode)
	var took time.Duration
	for {
		h, err := c.leaseHolder(ctx, f.service)
		if err == nil && h != "" && h != holder {
			took = time.Since(killed)
			break
		}
		if time.Since(killed) > 30*time.Second || ctx.Err() != nil {
			return fmt.Errorf("no replica of %s took the lease over within 30 s of %s's kill", f.service, holder)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.mu.Lock()
	c.rep.Handovers = append(c.rep.Handovers, took)
	c.mu.Unlock()
	fmt.Fprintf(c.out, "  %s's lease handed over from %s in %.2fs\n", f.service, holder, took.Seconds())
	if bound := harness.LeaseTTL + harness.LeaseTTL/4 + time.Second; took > bound {
		c.violate(i, seed, "handover", fmt.Sprintf("%s's lease taken over %.2fs after its holder %s was killed (bound %v: the TTL, a retry, 1 s)", f.service, took.Seconds(), holder, bound))
	}
	time.Sleep(f.hold - min(f.hold, time.Since(killed)))
	if err := s.StartNATSNode(f.natsNode); err != nil {
		return err
	}
	_, err = s.StartService(service, p.Replica())
	return err
}

// leaseHolder is the replica ("deployment-1") holding a service's controller lease
// now ("" when none holds a live one).
func (c *runner) leaseHolder(ctx context.Context, service string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.sys.DSN)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var holder string
	err = conn.QueryRow(ctx, fmt.Sprintf(`SELECT holder FROM %s.leases WHERE name = $1 AND expires_at > now()`, pgx.Identifier{service}.Sanitize()),
		service+"-controllers").Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return holder, err
}
