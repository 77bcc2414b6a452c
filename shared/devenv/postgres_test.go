package devenv

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStartPostgresPicksAgainWhenItsPortIsTaken: a port picked free and taken by
// another process before Postgres binds it is picked again.
func TestStartPostgresPicksAgainWhenItsPortIsTaken(t *testing.T) {
	if _, err := FindPostgresBin(); err != nil {
		t.Skip(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	picks := 0
	pickPort = func() (int, error) {
		if picks++; picks == 1 {
			return takenPort, nil // free when picked, taken before Postgres binds it
		}
		return FreePort()
	}
	defer func() { pickPort = FreePort }()
	// Reachable by the postgres user when the test runs as root.
	dir, err := os.MkdirTemp("", "devenv-pg-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresConfig{Dir: filepath.Join(dir, "pg")})
	if err != nil {
		t.Fatalf("StartPostgres: %v", err)
	}
	defer func() { _ = pg.Stop() }()
	if pg.Port == takenPort || picks != 2 {
		t.Fatalf("Postgres on port %d after %d picks; port %d was taken", pg.Port, picks, takenPort)
	}
}
