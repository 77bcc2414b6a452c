// Command withpg starts a private Postgres for the duration of a command and passes
// its DSN as PODWARDEN_TEST_POSTGRES_DSN, so every test package shares one server
// instead of starting its own: `go run ./shared/devenv/withpg -- go test ./...`.
// The server trades durability for speed (fsync, synchronous_commit and
// full_page_writes off) unless -durable is given: benchmarks whose figures users
// compare with what they run (make run's Postgres is durable) pass it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/podwarden/podwarden/shared/devenv"
)

func main() {
	durable := flag.Bool("durable", false, "run Postgres durable (fsync and synchronous commit on), as make run does")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: withpg [-durable] -- command [args...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(args, *durable))
}

func run(args []string, durable bool) int {
	dir, err := os.MkdirTemp("", "podwarden-testpg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "withpg:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresConfig{Dir: dir + "/data", Durable: durable})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "withpg:", err)
		return 1
	}
	defer pg.Stop() //nolint:errcheck
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "PODWARDEN_TEST_POSTGRES_DSN="+pg.DSN)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "withpg:", err)
		return 1
	}
	go func() {
		for s := range sig {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "withpg:", err)
		return 1
	}
	return 0
}
