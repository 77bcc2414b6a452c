// Package kinds names the object kinds the job service stores in its schema.
package kinds

import (
	"github.com/podwarden/podwarden/services/job/internal/reconcile"
	"github.com/podwarden/podwarden/shared/podview"
	"github.com/podwarden/podwarden/shared/store"

	jobv1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/job/v1"
)

// The stored kinds. Pods are this service's view of the pods its Jobs own:
// written when it asks for them (in the same transaction as the command), then
// updated from the node service's pod events. The view marks the pods it has
// counted (reconcile.AnnotationCounted), a mark the node service never sees.
var (
	Jobs = store.Kind[*jobv1.Job]{Name: "Job", Watch: true,
		New: func() *jobv1.Job { return &jobv1.Job{} }}
	CronJobs = store.Kind[*jobv1.CronJob]{Name: "CronJob", Watch: true,
		New: func() *jobv1.CronJob { return &jobv1.CronJob{} }}
	Pods = podview.Pods
)

func init() { podview.PrivateAnnotations(reconcile.AnnotationCounted) }
