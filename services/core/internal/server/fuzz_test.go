package server

import (
	"testing"

	"github.com/podwarden/podwarden/shared/kindfuzz"

	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

// The admission of PodDisruptionBudgets keeps kindfuzz's properties for any body.
var pdbs = kindfuzz.FromResource(PodDisruptionBudgetResource(nil, nil, nil), func() *policyv1.PodDisruptionBudget { return &policyv1.PodDisruptionBudget{} })

func TestAdmitPodDisruptionBudgetManifests(t *testing.T) {
	pdbs.CheckManifests(t, "PodDisruptionBudget")
}

func FuzzPodDisruptionBudget(f *testing.F) {
	kindfuzz.AddSeeds(f, "PodDisruptionBudget")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		pdbs.Check(t, kindfuzz.Mutate(data, at, value))
	})
}
