package server

import (
	"testing"

	"github.com/podwarden/podwarden/shared/kindfuzz"

	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// DaemonSet admission keeps kindfuzz's properties for any body (see kindfuzz).
var daemonSets = kindfuzz.FromResource(NewResource(nil, nil, nil), func() *daemonsetv1.DaemonSet { return &daemonsetv1.DaemonSet{} })

func TestAdmitManifests(t *testing.T) { daemonSets.CheckManifests(t, "DaemonSet") }

func FuzzDaemonSet(f *testing.F) {
	kindfuzz.AddSeeds(f, "DaemonSet")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		daemonSets.Check(t, kindfuzz.Mutate(data, at, value))
	})
}
