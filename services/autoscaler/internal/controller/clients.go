package controller

import (
	"context"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	metricsv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/metrics/v1"
)

// ScaleClient reads and writes the scale subresource of a target (over gRPC).
type ScaleClient interface {
	GetScale(ctx context.Context, kind, namespace, name string) (*corev1.Scale, error)
	UpdateScale(ctx context.Context, kind, namespace, name string, replicas int32) (*corev1.Scale, error)
}

// PodLister lists the pods a selector matches (the node service's runtime view).
type PodLister interface {
	ListPods(ctx context.Context, namespace, selector string) ([]*corev1.Pod, error)
}

// MetricsClient reads the resource, custom and external metrics APIs.
type MetricsClient interface {
	PodMetrics(ctx context.Context, namespace, selector string) ([]*metricsv1.PodMetrics, error)
	PodCustomMetrics(ctx context.Context, namespace, selector, metric string) ([]*metricsv1.MetricValue, error)
	ObjectMetric(ctx context.Context, namespace, kind, name, metric string) (*metricsv1.MetricValue, error)
	ExternalMetrics(ctx context.Context, namespace, metric, selector string) ([]*metricsv1.ExternalMetricValue, error)
}
