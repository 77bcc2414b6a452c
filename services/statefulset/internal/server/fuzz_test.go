package server

import (
	"testing"

	"github.com/podwarden/podwarden/shared/kindfuzz"

	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
	storagev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/storage/v1"
)

// The admission of StatefulSets, PersistentVolumeClaims and PersistentVolumes
// keeps kindfuzz's properties for any body (see kindfuzz).
var (
	statefulSets = kindfuzz.FromResource(NewResource(nil, nil, nil), func() *statefulsetv1.StatefulSet { return &statefulsetv1.StatefulSet{} })
	claims       = kindfuzz.FromResource(NewClaimResource(nil, nil, nil, func() string { return DefaultStorageClass }), func() *statefulsetv1.PersistentVolumeClaim {
		return &statefulsetv1.PersistentVolumeClaim{}
	})
	volumes = kindfuzz.FromResource(NewVolumeResource(nil, nil, nil), func() *statefulsetv1.PersistentVolume {
		return &statefulsetv1.PersistentVolume{}
	})
	storageClasses = kindfuzz.FromResource(NewStorageClassResource(nil, nil, nil), func() *storagev1.StorageClass { return &storagev1.StorageClass{} })
)

func TestAdmitManifests(t *testing.T) {
	statefulSets.CheckManifests(t, "StatefulSet")
	claims.CheckManifests(t, "PersistentVolumeClaim")
	volumes.CheckManifests(t, "PersistentVolume")
	storageClasses.CheckManifests(t, "StorageClass")
}

func FuzzStatefulSet(f *testing.F) {
	kindfuzz.AddSeeds(f, "StatefulSet")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		statefulSets.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzPersistentVolumeClaim(f *testing.F) {
	kindfuzz.AddSeeds(f, "PersistentVolumeClaim")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		claims.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzPersistentVolume(f *testing.F) {
	kindfuzz.AddSeeds(f, "PersistentVolume")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		volumes.Check(t, kindfuzz.Mutate(data, at, value))
	})
}

func FuzzStorageClass(f *testing.F) {
	kindfuzz.AddSeeds(f, "StorageClass")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, value string) {
		storageClasses.Check(t, kindfuzz.Mutate(data, at, value))
	})
}
