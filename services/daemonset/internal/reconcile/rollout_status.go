package reconcile

import (
	"errors"
	"fmt"

	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
)

// RolloutStatus is kubectl's DaemonSetStatusViewer: the message `kubectl rollout
// status daemonset` prints and whether the rollout is done.
func RolloutStatus(ds *daemonsetv1.DaemonSet) (string, bool, error) {
	if ds.GetSpec().GetUpdateStrategy().GetType() != RollingUpdate {
		return "", true, errors.New("rollout status is only available for RollingUpdate strategy type")
	}
	st := ds.GetStatus()
	name := ds.GetMetadata().GetName()
	if ds.GetMetadata().GetGeneration() > st.GetObservedGeneration() {
		return "Waiting for daemon set spec update to be observed...\n", false, nil
	}
	if st.GetUpdatedNumberScheduled() < st.GetDesiredNumberScheduled() {
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...\n",
			name, st.GetUpdatedNumberScheduled(), st.GetDesiredNumberScheduled()), false, nil
	}
	if st.GetNumberAvailable() < st.GetDesiredNumberScheduled() {
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...\n",
			name, st.GetNumberAvailable(), st.GetDesiredNumberScheduled()), false, nil
	}
	return fmt.Sprintf("daemon set %q successfully rolled out\n", name), true, nil
}
