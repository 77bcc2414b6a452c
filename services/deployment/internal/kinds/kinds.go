// Package kinds names the object kinds the deployment service stores in its schema.
package kinds

import (
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"

	deploymentv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/deployment/v1"
)

// The stored kinds. Pods are this service's view of the pods it owns: written when it
// asks for them (in the same transaction as the command), then updated from the node
// service's pod events.
var (
	Deployments = store.Kind[*deploymentv1.Deployment]{Name: "Deployment", Watch: true,
		New: func() *deploymentv1.Deployment { return &deploymentv1.Deployment{} }}
	ReplicaSets = store.Kind[*deploymentv1.ReplicaSet]{Name: "ReplicaSet", Watch: true,
		New: func() *deploymentv1.ReplicaSet { return &deploymentv1.ReplicaSet{} }}
	ReplicationControllers = store.Kind[*deploymentv1.ReplicationController]{Name: "ReplicationController", Watch: true,
		New: func() *deploymentv1.ReplicationController { return &deploymentv1.ReplicationController{} }}
	Pods = podview.Pods
)
