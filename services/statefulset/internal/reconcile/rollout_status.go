package reconcile

import (
	"errors"
	"fmt"

	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// RolloutStatus is kubectl's StatefulSetStatusViewer: the message `kubectl rollout
// status statefulset` prints and whether the rollout is done.
func RolloutStatus(set *statefulsetv1.StatefulSet) (string, bool, error) {
	s := set.GetSpec()
	st := set.GetStatus()
	if s.GetUpdateStrategy().GetType() != RollingUpdate {
		return "", true, errors.New("rollout status is only available for RollingUpdate strategy type")
	}
	if st.GetObservedGeneration() == 0 || set.GetMetadata().GetGeneration() > st.GetObservedGeneration() {
		return "Waiting for statefulset spec update to be observed...\n", false, nil
	}
	replicas := int32(Replicas(set))
	if st.GetReadyReplicas() < replicas {
		return fmt.Sprintf("Waiting for %d pods to be ready...\n", replicas-st.GetReadyReplicas()), false, nil
	}
	// kubectl reports any RollingUpdate with a rollingUpdate stanza (which the API
	// defaults, partition 0) as a partitioned roll out.
	if ru := s.GetUpdateStrategy().GetRollingUpdate(); ru != nil {
		if ru.Partition != nil && st.GetUpdatedReplicas() < replicas-ru.GetPartition() {
			return fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...\n",
				st.GetUpdatedReplicas(), replicas-ru.GetPartition()), false, nil
		}
		return fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...\n", st.GetUpdatedReplicas()), true, nil
	}
	if st.GetUpdateRevision() != st.GetCurrentRevision() {
		return fmt.Sprintf("waiting for statefulset rolling update to complete %d pods at revision %s...\n",
			st.GetUpdatedReplicas(), st.GetUpdateRevision()), false, nil
	}
	return fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...\n", st.GetCurrentReplicas(), st.GetCurrentRevision()), true, nil
}
