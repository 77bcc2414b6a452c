package reconcile

import (
	"errors"
	"slices"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// ErrRevisionNotFound is kubectl's error for `rollout history --revision=N`
// naming a revision that no ReplicaSet carries.
var ErrRevisionNotFound = errors.New("unable to find the specified revision")

// History is `kubectl rollout history`: one entry per revision found on the
// Deployment's ReplicaSets, sorted by revision, with the ReplicaSet's
// kubernetes.io/change-cause and its template without the pod-template-hash
// label. ReplicaSets whose revision annotation is not a number are skipped;
// one without the annotation is revision 0. When two ReplicaSets claim one
// revision the last in rsList wins, as in kubectl.
func History(d *deploymentv1.Deployment, rsList []*deploymentv1.ReplicaSet) []*deploymentv1.DeploymentRevision {
	byRevision := map[int64]*deploymentv1.ReplicaSet{}
	for _, rs := range rsList {
		if rs == nil {
			continue
		}
		v, err := revisionOf(rs.GetMetadata())
		if err != nil {
			continue
		}
		byRevision[v] = rs
	}
	out := make([]*deploymentv1.DeploymentRevision, 0, len(byRevision))
	for v, rs := range byRevision {
		out = append(out, &deploymentv1.DeploymentRevision{
			Revision:       v,
			ChangeCause:    rs.GetMetadata().GetAnnotations()[ChangeCauseAnnotation],
			ReplicaSetName: rs.GetMetadata().GetName(),
			Template:       hashlessTemplate(rs.GetSpec().GetTemplate()),
		})
	}
	slices.SortFunc(out, func(a, b *deploymentv1.DeploymentRevision) int {
		switch {
		case a.GetRevision() < b.GetRevision():
			return -1
		case a.GetRevision() > b.GetRevision():
			return 1
		}
		return 0
	})
	return out
}

// HistoryRevision is `kubectl rollout history --revision=N`: the one entry
// for revision, or ErrRevisionNotFound.
func HistoryRevision(d *deploymentv1.Deployment, rsList []*deploymentv1.ReplicaSet, revision int64) (*deploymentv1.DeploymentRevision, error) {
	for _, r := range History(d, rsList) {
		if r.GetRevision() == revision {
			return r, nil
		}
	}
	return nil, ErrRevisionNotFound
}

// hashlessTemplate copies t without the pod-template-hash label (what history shows).
func hashlessTemplate(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	return templateWithoutHash(t)
}
