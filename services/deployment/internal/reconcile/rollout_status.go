package reconcile

import (
	"fmt"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// RolloutStatus is kubectl's DeploymentStatusViewer.Status: a progress line,
// whether the rollout is done, or an error (a revision mismatch when revision
// > 0, the progress deadline exceeded). Messages end in "\n" as kubectl's do.
func RolloutStatus(d *deploymentv1.Deployment, revision int64) (string, bool, error) {
	name := d.GetMetadata().GetName()
	if revision > 0 {
		current, err := revisionOf(d.GetMetadata())
		if err != nil {
			return "", false, fmt.Errorf("cannot get the revision of deployment %q: %v", name, err)
		}
		if revision != current {
			return "", false, fmt.Errorf("desired revision (%d) is different from the running revision (%d)", revision, current)
		}
	}
	status := d.GetStatus()
	if d.GetMetadata().GetGeneration() > status.GetObservedGeneration() {
		return "Waiting for deployment spec update to be observed...\n", false, nil
	}
	if cond := getCondition(status, DeploymentProgressing); cond != nil && cond.GetReason() == TimedOutReason {
		return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", name)
	}
	if spec := d.GetSpec(); spec.Replicas != nil && status.GetUpdatedReplicas() < spec.GetReplicas() {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n",
			name, status.GetUpdatedReplicas(), spec.GetReplicas()), false, nil
	}
	if status.GetReplicas() > status.GetUpdatedReplicas() {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n",
			name, status.GetReplicas()-status.GetUpdatedReplicas()), false, nil
	}
	if status.GetAvailableReplicas() < status.GetUpdatedReplicas() {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n",
			name, status.GetAvailableReplicas(), status.GetUpdatedReplicas()), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out\n", name), true, nil
}
