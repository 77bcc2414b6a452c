// Package clients implements the controller's ScaleClient, PodLister and
// MetricsClient over the other services' gRPC APIs.
package clients

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
	statefulsetv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/statefulset/v1"
)

// Scales reads and writes the scale subresource of Deployments, ReplicaSets and
// ReplicationControllers (deployment service) and StatefulSets (statefulset service).
type Scales struct {
	Deployments            deploymentv1.DeploymentServiceClient
	ReplicaSets            deploymentv1.ReplicaSetServiceClient
	ReplicationControllers deploymentv1.ReplicationControllerServiceClient
	StatefulSets           statefulsetv1.StatefulSetServiceClient
}

// NewScales returns the scale clients of the deployment and statefulset services.
func NewScales(deployment, statefulset grpc.ClientConnInterface) *Scales {
	return &Scales{
		Deployments:            deploymentv1.NewDeploymentServiceClient(deployment),
		ReplicaSets:            deploymentv1.NewReplicaSetServiceClient(deployment),
		ReplicationControllers: deploymentv1.NewReplicationControllerServiceClient(deployment),
		StatefulSets:           statefulsetv1.NewStatefulSetServiceClient(statefulset),
	}
}

func unsupported(kind string) error {
	return fmt.Errorf("no scale subresource is served for kind %q", kind)
}

// GetScale reads the scale of namespace/name of kind.
func (s *Scales) GetScale(ctx context.Context, kind, ns, name string) (*corev1.Scale, error) {
	switch kind {
	case "Deployment":
		r, err := s.Deployments.GetDeploymentScale(ctx, &deploymentv1.GetDeploymentScaleRequest{Namespace: ns, Name: name})
		return r.GetScale(), err
	case "ReplicaSet":
		r, err := s.ReplicaSets.GetReplicaSetScale(ctx, &deploymentv1.GetReplicaSetScaleRequest{Namespace: ns, Name: name})
		return r.GetScale(), err
	case "ReplicationController":
		r, err := s.ReplicationControllers.GetReplicationControllerScale(ctx, &deploymentv1.GetReplicationControllerScaleRequest{Namespace: ns, Name: name})
		return r.GetScale(), err
	case "StatefulSet":
		r, err := s.StatefulSets.GetStatefulSetScale(ctx, &statefulsetv1.GetStatefulSetScaleRequest{Namespace: ns, Name: name})
		return r.GetScale(), err
	}
	return nil, unsupported(kind)
}

// UpdateScale sets spec.replicas through the scale subresource (unconditionally).
func (s *Scales) UpdateScale(ctx context.Context, kind, ns, name string, replicas int32) (*corev1.Scale, error) {
	sc := &corev1.Scale{ApiVersion: "autoscaling/v1", Kind: "Scale", Metadata: &corev1.ObjectMeta{Name: name, Namespace: ns},
		Spec: &corev1.ScaleSpec{Replicas: replicas}}
	switch kind {
	case "Deployment":
		r, err := s.Deployments.UpdateDeploymentScale(ctx, &deploymentv1.UpdateDeploymentScaleRequest{Namespace: ns, Name: name, Scale: sc})
		return r.GetScale(), err
	case "ReplicaSet":
		r, err := s.ReplicaSets.UpdateReplicaSetScale(ctx, &deploymentv1.UpdateReplicaSetScaleRequest{Namespace: ns, Name: name, Scale: sc})
		return r.GetScale(), err
	case "ReplicationController":
		r, err := s.ReplicationControllers.UpdateReplicationControllerScale(ctx, &deploymentv1.UpdateReplicationControllerScaleRequest{Namespace: ns, Name: name, Scale: sc})
		return r.GetScale(), err
	case "StatefulSet":
		r, err := s.StatefulSets.UpdateStatefulSetScale(ctx, &statefulsetv1.UpdateStatefulSetScaleRequest{Namespace: ns, Name: name, Scale: sc})
		return r.GetScale(), err
	}
	return nil, unsupported(kind)
}

// Node reads pods and metrics from the node service.
type Node struct {
	Pods    nodev1.PodServiceClient
	Metrics metricsv1.MetricsServiceClient
}

// NewNode returns the node service clients at conn.
func NewNode(conn grpc.ClientConnInterface) *Node {
	return &Node{Pods: nodev1.NewPodServiceClient(conn), Metrics: metricsv1.NewMetricsServiceClient(conn)}
}

// ListPods lists the pods of namespace matching selector.
func (n *Node) ListPods(ctx context.Context, ns, selector string) ([]*corev1.Pod, error) {
	r, err := n.Pods.ListPods(ctx, &nodev1.ListPodsRequest{Namespace: ns, LabelSelector: selector})
	return r.GetItems(), err
}

// PodMetrics lists metrics.k8s.io PodMetrics.
func (n *Node) PodMetrics(ctx context.Context, ns, selector string) ([]*metricsv1.PodMetrics, error) {
	r, err := n.Metrics.ListPodMetrics(ctx, &metricsv1.ListPodMetricsRequest{Namespace: ns, LabelSelector: selector})
	return r.GetItems(), err
}

// PodCustomMetrics lists a custom metric of the pods.
func (n *Node) PodCustomMetrics(ctx context.Context, ns, selector, metric string) ([]*metricsv1.MetricValue, error) {
	r, err := n.Metrics.ListPodCustomMetrics(ctx, &metricsv1.ListPodCustomMetricsRequest{Namespace: ns, LabelSelector: selector, MetricName: metric})
	return r.GetItems(), err
}

// ObjectMetric reads a custom metric of an object.
func (n *Node) ObjectMetric(ctx context.Context, ns, kind, name, metric string) (*metricsv1.MetricValue, error) {
	r, err := n.Metrics.GetObjectCustomMetric(ctx, &metricsv1.GetObjectCustomMetricRequest{Namespace: ns, Kind: kind, Name: name, MetricName: metric})
	return r.GetMetricValue(), err
}

// ExternalMetrics lists an external metric.
func (n *Node) ExternalMetrics(ctx context.Context, ns, metric, selector string) ([]*metricsv1.ExternalMetricValue, error) {
	r, err := n.Metrics.ListExternalMetrics(ctx, &metricsv1.ListExternalMetricsRequest{Namespace: ns, MetricName: metric, LabelSelector: selector})
	return r.GetItems(), err
}
