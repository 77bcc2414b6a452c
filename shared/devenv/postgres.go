// Package devenv starts the infrastructure podwarden needs on one machine: a private
// PostgreSQL (the machine's binaries, run as the postgres user when we are root,
// since initdb and postgres refuse root) and an embedded NATS server with JetStream.
// The local launcher, the integration tests and the benchmarks use it.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresConfig describes a private Postgres.
type PostgresConfig struct {
	// Dir holds the cluster (created by initdb when empty).
	Dir string
	// Port on 127.0.0.1 (0 picks a free one).
	Port int
	// Database is created if missing (default "podwarden").
	Database string
	// Durable false turns off fsync and friends: for tests and benchmarks only.
	Durable bool
}

// Postgres is a running private Postgres.
type Postgres struct {
	cfg  PostgresConfig
	bin  string
	DSN  string
	Port int
}

// FindPostgresBin returns the directory holding initdb and pg_ctl: $PG_BIN, the newest
// /usr/lib/postgresql/*/bin, or the PATH.
func FindPostgresBin() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL binaries not found: install the postgresql package (apt-get install -y postgresql) or set PG_BIN")
}

func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// runAs runs a Postgres binary, as the postgres user when we are root.
func runAs(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

// prepareDir creates dir, hands it to the postgres user when we are root, and makes
// every parent folder traversable for that user.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user (install the postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, st.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("make %s traversable for postgres: %w", p, err)
			}
		}
	}
	return nil
}

// StartPostgres initialises (if needed) and starts a private Postgres on 127.0.0.1,
// TCP only, and creates the database.
func StartPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	bin, err := FindPostgresBin()
	if err != nil {
		return nil, err
	}
	if cfg.Database == "" {
		cfg.Database = "podwarden"
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	// Postgres binds the port itself (it cannot be handed a listener): a port picked
	// free here may be taken by another process before it binds it, so a picked one
	// that turns out taken is picked again.
	picked := cfg.Port == 0
	if err := prepareDir(dir); err != nil {
		return nil, fmt.Errorf("prepare postgres dir: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		out, err := runAs(filepath.Join(bin, "initdb"), "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("initdb: %w: %s", err, out)
		}
	}
	for attempt := 1; ; attempt++ {
		if picked {
			if cfg.Port, err = pickPort(); err != nil {
				return nil, err
			}
		}
		p, err := startPostgres(ctx, cfg, bin, dir)
		if err == nil || !picked || attempt == 5 || !errors.Is(err, errPortTaken) {
			return p, err
		}
	}
}

// pickPort picks StartPostgres's port (tests replace it).
var pickPort = FreePort

// errPortTaken: Postgres could not bind its port.
var errPortTaken = errors.New("port taken")

func startPostgres(ctx context.Context, cfg PostgresConfig, bin, dir string) (*Postgres, error) {
	opts := []string{
		"-p " + strconv.Itoa(cfg.Port), "-k ''", "-c listen_addresses=127.0.0.1", "-c max_connections=300",
		"-c shared_buffers=128MB",
	}
	if !cfg.Durable {
		opts = append(opts, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
	}
	// For investigations, e.g. "-c shared_preload_libraries=pg_stat_statements".
	if extra := os.Getenv("PODWARDEN_DEV_POSTGRES_OPTIONS"); extra != "" {
		opts = append(opts, extra)
	}
	p := &Postgres{cfg: cfg, bin: bin, Port: cfg.Port,
		DSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", cfg.Port, cfg.Database)}
	// A cluster left running by a killed launcher is stopped first.
	_ = runAs(filepath.Join(bin, "pg_ctl"), "-D", dir, "-m", "immediate", "stop").Run()
	cmd := runAs(filepath.Join(bin, "pg_ctl"), "-D", dir, "-l", filepath.Join(dir, "postgres.log"), "-w", "-t", "60",
		"-o", strings.Join(opts, " "), "start")
	logFile := filepath.Join(dir, "postgres.log")
	before, _ := os.ReadFile(logFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		if len(log) >= len(before) && strings.Contains(string(log[len(before):]), "could not bind") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, tail(string(log), 2000))
	}
	if err := p.createDatabase(ctx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (p *Postgres) createDatabase(ctx context.Context) error {
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
	var conn *pgx.Conn
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err = pgx.Connect(ctx, dsn)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("connect to new postgres: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname=$1)", p.cfg.Database).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{p.cfg.Database}.Sanitize()); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
	}
	return nil
}

// Stop stops the server (fast shutdown).
func (p *Postgres) Stop() error {
	out, err := runAs(filepath.Join(p.bin, "pg_ctl"), "-D", p.cfg.Dir, "-m", "fast", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return nil
}
