// Package testenv gives tests a real Postgres and a real (embedded) NATS.
// Postgres: the one named by PODWARDEN_TEST_POSTGRES_DSN (make test starts one for
// every package), else a private one started once per test binary. Each test gets a
// fresh schema, so tests never see each other's rows.
package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podwarden/podwarden/shared/devenv"
)

var (
	pgOnce sync.Once
	pgDSN  string
	pgErr  error
	pg     *devenv.Postgres
	pgDir  string
	seq    atomic.Int64
)

// Main runs the tests, then the cleanups and stops what the package started, and exits;
// call it from TestMain (a defer there would never run).
func Main(m *testing.M, cleanup ...func()) {
	code := m.Run()
	for _, fn := range cleanup {
		fn() // os.Exit below skips the caller's defers
	}
	if pg != nil {
		_ = pg.Stop()
		_ = os.RemoveAll(pgDir)
	}
	os.Exit(code)
}

// PostgresDSN returns the DSN of the test Postgres, starting one if needed.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	pgOnce.Do(func() {
		if dsn := os.Getenv("PODWARDEN_TEST_POSTGRES_DSN"); dsn != "" {
			pgDSN = dsn
			return
		}
		pgDir, pgErr = os.MkdirTemp("", "podwarden-pg-")
		if pgErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		pg, pgErr = devenv.StartPostgres(ctx, devenv.PostgresConfig{Dir: pgDir + "/data"})
		if pgErr == nil {
			pgDSN = pg.DSN
		}
	})
	if pgErr != nil {
		tb.Fatalf("test postgres: %v", pgErr)
	}
	return pgDSN
}

// Schema returns a schema name no other test uses.
func Schema(tb testing.TB, prefix string) string {
	name := strings.ToLower(fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), seq.Add(1)))
	return strings.NewReplacer("-", "_", "/", "_").Replace(name)
}

// NATS starts an embedded NATS server with JetStream for one test.
func NATS(tb testing.TB) *devenv.NATS {
	tb.Helper()
	n, err := devenv.StartNATS(devenv.NATSConfig{StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("test nats: %v", err)
	}
	tb.Cleanup(n.Stop)
	return n
}

// Eventually polls cond every 10ms until it returns true or the deadline passes.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
