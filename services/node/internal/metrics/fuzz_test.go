package metrics

import (
	"testing"

	"github.com/podwarden/podwarden/shared/kindfuzz"

	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
)

// Load admission keeps kindfuzz's properties for any body (see kindfuzz).
var loads = kindfuzz.FromResource(LoadResource(nil, nil), func() *metricsv1.Load { return &metricsv1.Load{} })

func TestAdmitManifests(t *testing.T) { loads.CheckManifests(t, "Load") }

func FuzzLoad(f *testing.F) {
	kindfuzz.AddSeeds(f, "Load")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		loads.Check(t, kindfuzz.Mutate(data, at, value))
	})
}
