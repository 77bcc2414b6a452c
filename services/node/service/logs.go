package service

import (
	"fmt"
	"os"
	"strconv"

	"google.golang.org/grpc"

	"github.com/podwarden/podwarden/services/node/internal/execrt"
	"github.com/podwarden/podwarden/services/node/internal/sandbox"
	"github.com/podwarden/podwarden/services/node/internal/server"
	"github.com/podwarden/podwarden/services/node/internal/sim"

	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Container runtimes.
const (
	// RuntimeSim simulates containers (default): ProgramFor decides what a
	// command does.
	RuntimeSim = "sim"
	// RuntimeExec really runs each container's command+args as a local process
	// per container, with the node service's user and privileges: anyone who
	// can create a pod can run any command on this machine. Off by default;
	// enable it only on a machine and an API you alone can reach.
	RuntimeExec = "exec"
)

// envTimeScale reads PODWARDEN_SIM_TIME_SCALE (a positive number; default 1).
func envTimeScale() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("PODWARDEN_SIM_TIME_SCALE"), 64); err == nil && v > 0 {
		return v
	}
	return 1
}

// runtime is the configured container runtime: nil parts for the sim.
type runtime struct {
	sim   sim.Runtime
	logs  server.LogSource
	close func()
}

func newRuntime(cfg Config, podnet *sandbox.Network) runtime {
	if cfg.Runtime != RuntimeExec {
		return runtime{close: func() {}}
	}
	rt := execrt.New()
	if podnet != nil {
		rt.StartProcess = sandboxes{n: podnet, exec: true}.start
	}
	return runtime{sim: rt, logs: rt, close: rt.Close}
}

func validRuntime(name string) error {
	switch name {
	case "", RuntimeSim, RuntimeExec:
		return nil
	}
	return fmt.Errorf("runtime %q: want %s or %s", name, RuntimeSim, RuntimeExec)
}

// registerPodLogs serves PodLogService (`kubectl logs`).
func registerPodLogs(s *grpc.Server, deps server.Deps, cfg Config, rt runtime) {
	nodev1.RegisterPodLogServiceServer(s, &server.PodLogServer{Deps: deps, TimeScale: cfg.TimeScale, Exec: rt.logs})
}
