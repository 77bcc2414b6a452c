package server

import (
	"testing"

	"github.com/podwarden/podwarden/shared/kindfuzz"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// The kinds' admission (create: type meta, defaults, validation; an unchanged
// update) keeps kindfuzz's properties for any body. `make fuzz` explores;
// plain `go test` replays the seeds and testdata/fuzz.

var res = NewResources(nil, nil, nil)

var (
	deployments = kindfuzz.FromResource(res.Deployments, func() *deploymentv1.Deployment { return &deploymentv1.Deployment{} })
	replicaSets = kindfuzz.FromResource(res.ReplicaSets, func() *deploymentv1.ReplicaSet { return &deploymentv1.ReplicaSet{} })
	rcs         = kindfuzz.FromResource(res.ReplicationControllers, func() *deploymentv1.ReplicationController {
		return &deploymentv1.ReplicationController{}
	})
)

func TestAdmitManifests(t *testing.T) {
	deployments.CheckManifests(t, "Deployment")
	replicaSets.CheckManifests(t, "ReplicaSet")
	rcs.CheckManifests(t, "ReplicationController")
}

func FuzzDeployment(f *testing.F) {
	kindfuzz.AddSeeds(f, "Deployment")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		deployments.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzReplicaSet(f *testing.F) {
	kindfuzz.AddSeeds(f, "ReplicaSet", "Deployment")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		replicaSets.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzReplicationController(f *testing.F) {
	kindfuzz.AddSeeds(f, "ReplicationController")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		rcs.Check(t, kindfuzz.Mutate(data, at, value))
	})
}
