package reconcile

import (
	"fmt"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// DeploymentRollback is what `kubectl rollout undo` writes: the Deployment's
// spec.template and metadata.annotations replaced by these, unless Skipped.
type DeploymentRollback struct {
	// Revision is the revision rolled back to.
	Revision int64
	// Template is that revision's pod template, without pod-template-hash.
	Template *corev1.PodTemplateSpec
	// Annotations is the Deployment's full new metadata.annotations: its own
	// revision/apply annotations kept, every other one taken from the
	// ReplicaSet (kubernetes.io/change-cause comes back with the template).
	Annotations map[string]string
	// Skipped is true when the current template already is that revision's;
	// nothing must be written.
	Skipped bool
	// Message is kubectl's: "rolled back" or
	// "skipped rollback (current template already matches revision N)".
	Message string
}

// PlanRollback is kubectl's DeploymentRollbacker.Rollback without the I/O.
// toRevision 0 means the previous revision (the second highest). Errors are
// kubectl's: "unable to find specified revision N in history", "no rollout
// history found for deployment \"x\"", and the paused-deployment refusal.
func PlanRollback(d *deploymentv1.Deployment, rsList []*deploymentv1.ReplicaSet, toRevision int64) (DeploymentRollback, error) {
	if toRevision < 0 {
		return DeploymentRollback{}, revisionNotFoundErr(toRevision)
	}
	rs, revision, err := deploymentRevision(d, rsList, toRevision)
	if err != nil {
		return DeploymentRollback{}, err
	}
	if d.GetSpec().GetPaused() {
		return DeploymentRollback{}, fmt.Errorf("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume deployment/%s' and try again", d.GetMetadata().GetName())
	}
	out := DeploymentRollback{Revision: revision, Template: hashlessTemplate(rs.GetSpec().GetTemplate())}
	if EqualIgnoreHash(rs.GetSpec().GetTemplate(), d.GetSpec().GetTemplate()) {
		out.Skipped = true
		out.Message = fmt.Sprintf("skipped rollback (current template already matches revision %d)", toRevision)
		return out, nil
	}
	out.Annotations = map[string]string{}
	for k, v := range d.GetMetadata().GetAnnotations() {
		if annotationsToSkip[k] {
			out.Annotations[k] = v
		}
	}
	for k, v := range rs.GetMetadata().GetAnnotations() {
		if !annotationsToSkip[k] {
			out.Annotations[k] = v
		}
	}
	out.Message = "rolled back"
	return out, nil
}

// RollbackTemplate returns the pod template of revision toRevision (0: the
// previous one), without pod-template-hash, with PlanRollback's errors.
func RollbackTemplate(d *deploymentv1.Deployment, rsList []*deploymentv1.ReplicaSet, toRevision int64) (*corev1.PodTemplateSpec, error) {
	rb, err := PlanRollback(d, rsList, toRevision)
	if err != nil {
		return nil, err
	}
	return rb.Template, nil
}

// deploymentRevision finds the ReplicaSet of toRevision, or of the second
// highest revision when toRevision is 0.
func deploymentRevision(d *deploymentv1.Deployment, rsList []*deploymentv1.ReplicaSet, toRevision int64) (*deploymentv1.ReplicaSet, int64, error) {
	var (
		latest, previous       *deploymentv1.ReplicaSet
		latestRev, previousRev = int64(-1), int64(-1)
	)
	for _, rs := range rsList {
		if rs == nil {
			continue
		}
		v, err := revisionOf(rs.GetMetadata())
		if err != nil {
			continue
		}
		if toRevision == 0 {
			if latestRev < v {
				previous, previousRev = latest, latestRev
				latest, latestRev = rs, v
			} else if previousRev < v {
				previous, previousRev = rs, v
			}
		} else if toRevision == v {
			return rs, v, nil
		}
	}
	if toRevision > 0 {
		return nil, 0, revisionNotFoundErr(toRevision)
	}
	if previous == nil {
		return nil, 0, fmt.Errorf("no rollout history found for deployment %q", d.GetMetadata().GetName())
	}
	return previous, previousRev, nil
}

func revisionNotFoundErr(r int64) error {
	return fmt.Errorf("unable to find specified revision %v in history", r)
}
