// Package naming generates the names Kubernetes' controllers give to the
// objects they create: the pod-template-hash of a ReplicaSet
// (controller.ComputeHash) and generateName suffixes (SimpleNameGenerator).
package naming

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/rand"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

const (
	// MaxNameLength is the longest name GenerateName produces.
	MaxNameLength = 63
	// RandomLength is the length of the random suffix GenerateName appends.
	RandomLength = 5
	// MaxGeneratedNameLength is the longest base GenerateName keeps.
	MaxGeneratedNameLength = MaxNameLength - RandomLength
)

// ComputeHash returns the pod-template-hash of t, like Kubernetes'
// controller.ComputeHash: fnv32a over a deterministic encoding of the template
// (here its deterministic protobuf encoding, so map order does not matter),
// then the collision count as 8 little-endian bytes when non-nil, rendered with
// rand.SafeEncodeString. The value differs from real Kubernetes' (which hashes
// the Go struct dump) but has the same shape ("6c7985744b") and the same
// stability: same template and count, same hash.
func ComputeHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	hasher := fnv.New32a()
	// Marshal of a valid message cannot fail; on a failure the hash covers
	// whatever was encoded, which is still deterministic.
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(t)
	_, _ = hasher.Write(b)
	if collisionCount != nil {
		buf := make([]byte, 8)
		binary.LittleEndian.PutUint32(buf, uint32(*collisionCount))
		_, _ = hasher.Write(buf)
	}
	return rand.SafeEncodeString(fmt.Sprint(hasher.Sum32()))
}

// RandomSuffix returns 5 random characters from Kubernetes' safe alphabet
// "bcdfghjklmnpqrstvwxz2456789" (util/rand.String(5)).
func RandomSuffix() string {
	return rand.String(RandomLength)
}

// GenerateName implements metadata.generateName like Kubernetes'
// SimpleNameGenerator: base cut to 58 characters, then a 5-character suffix.
func GenerateName(base string) string {
	if len(base) > MaxGeneratedNameLength {
		base = base[:MaxGeneratedNameLength]
	}
	return base + RandomSuffix()
}
