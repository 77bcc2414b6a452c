// Package clients reaches the pods (node service) and the scales of their
// controllers (deployment and statefulset services) for the disruption controller
// and the eviction subresource.
package clients

import (
	"context"

	"google.golang.org/grpc"

	"github.com/podwarden/podwarden/services/core/internal/disruption"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/podutil"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// Pods reads, watches and deletes pods through the node service.
type Pods struct{ c nodev1.PodServiceClient }

// NewPods returns the node service's pod client.
func NewPods(conn grpc.ClientConnInterface) *Pods { return &Pods{c: nodev1.NewPodServiceClient(conn)} }

// Get reads one pod (NotFound as the node service says it: `pods "x" not found`).
func (p *Pods) Get(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	r, err := p.c.GetPod(ctx, &nodev1.GetPodRequest{Namespace: ns, Name: name})
	return r.GetPod(), err
}

// List lists the pods of ns matching the label selector.
func (p *Pods) List(ctx context.Context, ns, selector string) ([]*corev1.Pod, error) {
	r, err := p.c.ListPods(ctx, &nodev1.ListPodsRequest{Namespace: ns, LabelSelector: selector})
	return r.GetItems(), err
}

// Delete deletes a pod gracefully with the options given, adding cond to its status.
func (p *Pods) Delete(ctx context.Context, ns, name string, opts *corev1.DeleteOptions, cond *corev1.Condition) (*corev1.Pod, error) {
	r, err := p.c.DeletePod(ctx, &nodev1.DeletePodRequest{Namespace: ns, Name: name, Options: opts, Condition: cond})
	return r.GetPod(), err
}

// Watch streams every pod change (all namespaces) from now on; each change's pod is
// sent to fn until the stream or ctx ends.
func (p *Pods) Watch(ctx context.Context, fn func(*corev1.Pod)) error {
	stream, err := p.c.WatchPods(ctx, &nodev1.WatchPodsRequest{})
	if err != nil {
		return err
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return err
		}
		if ev.GetType() != "BOOKMARK" && ev.GetObject() != nil {
			fn(ev.GetObject())
		}
	}
}

// Scales finds the scale that counts for a pod controller, as the disruption
// controller's finders do: a ReplicaSet's Deployment (or the ReplicaSet alone), a
// ReplicationController, a StatefulSet.
type Scales struct {
	deployments  deploymentv1.DeploymentServiceClient
	replicaSets  deploymentv1.ReplicaSetServiceClient
	rcs          deploymentv1.ReplicationControllerServiceClient
	statefulSets statefulsetv1.StatefulSetServiceClient
}

// NewScales returns the scale finder over the deployment and statefulset services.
func NewScales(deployment, statefulset grpc.ClientConnInterface) *Scales {
	return &Scales{deployments: deploymentv1.NewDeploymentServiceClient(deployment),
		replicaSets:  deploymentv1.NewReplicaSetServiceClient(deployment),
		rcs:          deploymentv1.NewReplicationControllerServiceClient(deployment),
		statefulSets: statefulsetv1.NewStatefulSetServiceClient(statefulset)}
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// Find returns the scale of the controller ref points at in ns; ok is false when
// there is no such controller (another kind, or gone, or another object by that name).
func (s *Scales) Find(ctx context.Context, ns string, ref *corev1.OwnerReference) (disruption.Scale, bool, error) {
	notFound := func(err error) (disruption.Scale, bool, error) {
		if apierr.IsNotFound(err) {
			return disruption.Scale{}, false, nil
		}
		return disruption.Scale{}, false, err
	}
	switch ref.GetKind() {
	case "ReplicaSet":
		r, err := s.replicaSets.GetReplicaSet(ctx, &deploymentv1.GetReplicaSetRequest{Namespace: ns, Name: ref.GetName()})
		if err != nil {
			return notFound(err)
		}
		rs := r.GetReplicaSet()
		if rs.GetMetadata().GetUid() != ref.GetUid() {
			return disruption.Scale{}, false, nil
		}
		if owner := podutil.GetControllerOf(rs.GetMetadata()); owner != nil && owner.GetKind() == "Deployment" {
			d, err := s.deployments.GetDeployment(ctx, &deploymentv1.GetDeploymentRequest{Namespace: ns, Name: owner.GetName()})
			if err != nil {
				return notFound(err)
			}
			if d.GetDeployment().GetMetadata().GetUid() != owner.GetUid() {
				return disruption.Scale{}, false, nil
			}
			return disruption.Scale{UID: owner.GetUid(), Replicas: replicas(d.GetDeployment().GetSpec().Replicas)}, true, nil
		}
		return disruption.Scale{UID: ref.GetUid(), Replicas: replicas(rs.GetSpec().Replicas)}, true, nil
	case "ReplicationController":
		r, err := s.rcs.GetReplicationController(ctx, &deploymentv1.GetReplicationControllerRequest{Namespace: ns, Name: ref.GetName()})
		if err != nil {
			return notFound(err)
		}
		if r.GetReplicationController().GetMetadata().GetUid() != ref.GetUid() {
			return disruption.Scale{}, false, nil
		}
		return disruption.Scale{UID: ref.GetUid(), Replicas: replicas(r.GetReplicationController().GetSpec().Replicas)}, true, nil
	case "StatefulSet":
		r, err := s.statefulSets.GetStatefulSet(ctx, &statefulsetv1.GetStatefulSetRequest{Namespace: ns, Name: ref.GetName()})
		if err != nil {
			return notFound(err)
		}
		if r.GetStatefulSet().GetMetadata().GetUid() != ref.GetUid() {
			return disruption.Scale{}, false, nil
		}
		return disruption.Scale{UID: ref.GetUid(), Replicas: replicas(r.GetStatefulSet().GetSpec().Replicas)}, true, nil
	}
	return disruption.Scale{}, false, nil
}
