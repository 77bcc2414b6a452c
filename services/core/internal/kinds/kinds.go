// Package kinds names the object kinds the core service stores in its schema.
package kinds

import (
	"github.com/podwarden/podwarden/shared/store"

	coordinationv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/coordination/v1"
	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	policyv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/policy/v1"
)

// Leases are coordination.k8s.io/v1 Leases (watchable: leader election watches
// nothing, but kubectl get -w and informers do).
var Leases = store.Kind[*coordinationv1.Lease]{Name: "Lease", Watch: true,
	New: func() *coordinationv1.Lease { return &coordinationv1.Lease{} }}

// ConfigMaps and Secrets are core/v1 ConfigMaps and Secrets (a Secret is stored
// with its data merged from stringData, never with stringData).
var (
	ConfigMaps = store.Kind[*corev1.ConfigMap]{Name: "ConfigMap", Watch: true,
		New: func() *corev1.ConfigMap { return &corev1.ConfigMap{} }}
	Secrets = store.Kind[*corev1.Secret]{Name: "Secret", Watch: true,
		New: func() *corev1.Secret { return &corev1.Secret{} }}
)

// ServiceAccounts are core/v1 ServiceAccounts.
var ServiceAccounts = store.Kind[*corev1.ServiceAccount]{Name: "ServiceAccount", Watch: true,
	New: func() *corev1.ServiceAccount { return &corev1.ServiceAccount{} }}

// Namespaces are core/v1 Namespaces (cluster-scoped).
var Namespaces = store.Kind[*corev1.Namespace]{Name: "Namespace", Watch: true,
	New: func() *corev1.Namespace { return &corev1.Namespace{} }}

// PodDisruptionBudgets are policy/v1 PodDisruptionBudgets: their status is the
// disruption controller's, and evictions use it up (under the row's lock).
var PodDisruptionBudgets = store.Kind[*policyv1.PodDisruptionBudget]{Name: "PodDisruptionBudget", Watch: true,
	New: func() *policyv1.PodDisruptionBudget { return &policyv1.PodDisruptionBudget{} }}
