package scheduler

import (
	"github.com/podwarden/podwarden/shared/scheduling"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// preferredAffinityScore sums the weights of the preferred terms the node matches.
func preferredAffinityScore(pod *corev1.Pod, node *nodev1.Node) int64 {
	var score int64
	for _, p := range pod.GetSpec().GetAffinity().GetNodeAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution() {
		if p.GetWeight() != 0 && scheduling.MatchNodeSelectorTerm(p.GetPreference(), node) {
			score += int64(p.GetWeight())
		}
	}
	return score
}
