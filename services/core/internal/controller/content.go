package controller

import (
	"context"

	"google.golang.org/grpc"

	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"

	autoscalerv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/autoscaler/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	daemonsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/daemonset/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// Backends are the connections to the services whose namespaced objects the
// namespace controller removes (a nil one is not deployed: nothing of it is removed).
type Backends struct {
	Deployment, StatefulSet, DaemonSet, Job, Autoscaler, Node grpc.ClientConnInterface
}

type object interface{ GetMetadata() *corev1.ObjectMeta }

// metas lists the objects' metadata.
func metas[T object](items []T, err error) ([]*corev1.ObjectMeta, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.ObjectMeta, len(items))
	for i, it := range items {
		out[i] = it.GetMetadata()
	}
	return out, nil
}

// background is the propagation the namespace controller deletes with (its
// dependents go too, whatever the kind's default).
const background = crud.Background

// RemoteContent is every namespaced kind the other services serve, in the order
// they are deleted: the workloads first (their controllers stop making pods),
// then what they made and the rest. Each is reached through the service's own
// gRPC API, so a deletion there is what a client's deletion would be (graceful
// pods, garbage collection of dependents).
func RemoteContent(b Backends) []ContentType {
	var out []ContentType
	if c := b.Job; c != nil {
		cj, j := jobv1.NewCronJobServiceClient(c), jobv1.NewJobServiceClient(c)
		out = append(out,
			ContentType{Resource: "cronjobs.batch",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := cj.ListCronJobs(ctx, &jobv1.ListCronJobsRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := cj.DeleteCronJob(ctx, &jobv1.DeleteCronJobRequest{Namespace: ns, Name: name, PropagationPolicy: background})
					return err
				}},
			ContentType{Resource: "jobs.batch",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := j.ListJobs(ctx, &jobv1.ListJobsRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := j.DeleteJob(ctx, &jobv1.DeleteJobRequest{Namespace: ns, Name: name, PropagationPolicy: background})
					return err
				}})
	}
	if c := b.Autoscaler; c != nil {
		h := autoscalerv1.NewHorizontalPodAutoscalerServiceClient(c)
		out = append(out, ContentType{Resource: "horizontalpodautoscalers.autoscaling",
			List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
				r, err := h.ListHorizontalPodAutoscalers(ctx, &autoscalerv1.ListHorizontalPodAutoscalersRequest{Namespace: ns})
				return metas(r.GetItems(), err)
			},
			Delete: func(ctx context.Context, ns, name string) error {
				_, err := h.DeleteHorizontalPodAutoscaler(ctx, &autoscalerv1.DeleteHorizontalPodAutoscalerRequest{Namespace: ns, Name: name, PropagationPolicy: background})
				return err
			}})
	}
	if c := b.Deployment; c != nil {
		d, rs, rc := deploymentv1.NewDeploymentServiceClient(c), deploymentv1.NewReplicaSetServiceClient(c), deploymentv1.NewReplicationControllerServiceClient(c)
		out = append(out,
			ContentType{Resource: "deployments.apps",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := d.ListDeployments(ctx, &deploymentv1.ListDeploymentsRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := d.DeleteDeployment(ctx, &deploymentv1.DeleteDeploymentRequest{Namespace: ns, Name: name, PropagationPolicy: background})
					return err
				}},
			ContentType{Resource: "replicasets.apps",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := rs.ListReplicaSets(ctx, &deploymentv1.ListReplicaSetsRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := rs.DeleteReplicaSet(ctx, &deploymentv1.DeleteReplicaSetRequest{Namespace: ns, Name: name, PropagationPolicy: background})
					return err
				}},
			ContentType{Resource: "replicationcontrollers.",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := rc.ListReplicationControllers(ctx, &deploymentv1.ListReplicationControllersRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := rc.DeleteReplicationController(ctx, &deploymentv1.DeleteReplicationControllerRequest{Namespace: ns, Name: name, PropagationPolicy: background})
					return err
				}})
	}
	if c := b.StatefulSet; c != nil {
		s, pvc := statefulsetv1.NewStatefulSetServiceClient(c), statefulsetv1.NewPersistentVolumeClaimServiceClient(c)
		out = append(out,
			ContentType{Resource: "statefulsets.apps",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := s.ListStatefulSets(ctx, &statefulsetv1.ListStatefulSetsRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := s.DeleteStatefulSet(ctx, &statefulsetv1.DeleteStatefulSetRequest{Namespace: ns, Name: name, PropagationPolicy: background})
					return err
				}},
			ContentType{Resource: "persistentvolumeclaims.",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := pvc.ListPersistentVolumeClaims(ctx, &statefulsetv1.ListPersistentVolumeClaimsRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := pvc.DeletePersistentVolumeClaim(ctx, &statefulsetv1.DeletePersistentVolumeClaimRequest{Namespace: ns, Name: name, PropagationPolicy: background})
					return err
				}})
	}
	if c := b.DaemonSet; c != nil {
		ds := daemonsetv1.NewDaemonSetServiceClient(c)
		out = append(out, ContentType{Resource: "daemonsets.apps",
			List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
				r, err := ds.ListDaemonSets(ctx, &daemonsetv1.ListDaemonSetsRequest{Namespace: ns})
				return metas(r.GetItems(), err)
			},
			Delete: func(ctx context.Context, ns, name string) error {
				_, err := ds.DeleteDaemonSet(ctx, &daemonsetv1.DeleteDaemonSetRequest{Namespace: ns, Name: name, PropagationPolicy: background})
				return err
			}})
	}
	if c := b.Node; c != nil {
		pods, svcs, eps, loads := nodev1.NewPodServiceClient(c), nodev1.NewServiceServiceClient(c), nodev1.NewEndpointsServiceClient(c), metricsv1.NewLoadServiceClient(c)
		out = append(out,
			ContentType{Resource: "pods.",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := pods.ListPods(ctx, &nodev1.ListPodsRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := pods.DeletePod(ctx, &nodev1.DeletePodRequest{Namespace: ns, Name: name})
					return err
				}},
			ContentType{Resource: "services.",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := svcs.ListServices(ctx, &nodev1.ListServicesRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := svcs.DeleteService(ctx, &nodev1.DeleteServiceRequest{Namespace: ns, Name: name})
					return err
				}},
			ContentType{Resource: "endpoints.",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := eps.ListEndpoints(ctx, &nodev1.ListEndpointsRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := eps.DeleteEndpoints(ctx, &nodev1.DeleteEndpointsRequest{Namespace: ns, Name: name})
					return err
				}},
			ContentType{Resource: "loads.sim.podwarden.io",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := loads.ListLoads(ctx, &metricsv1.ListLoadsRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := loads.DeleteLoad(ctx, &metricsv1.DeleteLoadRequest{Namespace: ns, Name: name})
					return err
				}})
		// ResourceQuotas and LimitRanges go after the pods, as nothing limits them then.
		quotas, ranges := corev1.NewResourceQuotaServiceClient(c), corev1.NewLimitRangeServiceClient(c)
		out = append(out,
			ContentType{Resource: "resourcequotas.",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := quotas.ListResourceQuotas(ctx, &corev1.ListResourceQuotasRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := quotas.DeleteResourceQuota(ctx, &corev1.DeleteResourceQuotaRequest{Namespace: ns, Name: name})
					return err
				}},
			ContentType{Resource: "limitranges.",
				List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
					r, err := ranges.ListLimitRanges(ctx, &corev1.ListLimitRangesRequest{Namespace: ns})
					return metas(r.GetItems(), err)
				},
				Delete: func(ctx context.Context, ns, name string) error {
					_, err := ranges.DeleteLimitRange(ctx, &corev1.DeleteLimitRangeRequest{Namespace: ns, Name: name})
					return err
				}})
	}
	return out
}

// LocalContent is a kind the core service stores itself, removed through its resource.
func LocalContent[T store.Object](resource string, r *crud.Resource[T]) ContentType {
	return ContentType{Resource: resource,
		List: func(ctx context.Context, ns string) ([]*corev1.ObjectMeta, error) {
			res, err := r.List(ctx, ns, crud.ListOptions{})
			if err != nil {
				return nil, err
			}
			return metas(res.Items, nil)
		},
		Delete: func(ctx context.Context, ns, name string) error {
			_, _, err := r.Delete(ctx, ns, name, background, nil)
			return err
		}}
}
