// Package server holds the gRPC handlers of the node service: NodeService and
// PodService. Handlers validate, default and store, in one transaction with
// the outbox messages; the decisions (scheduling, the pod lifecycle) belong to
// the leader's loops, woken by the store's notifications.
package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/services/node/internal/repo"
	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/clock"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"
	"github.com/podwarden/podwarden/shared/watch"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
	nodev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/node/v1"
)

// Group resources and kinds of the errors.
var (
	podsGR  = apierr.GroupResource{Resource: "pods"}
	nodesGR = apierr.GroupResource{Resource: "nodes"}
	podGK   = apierr.GroupKind{Kind: "Pod"}
	nodeGK  = apierr.GroupKind{Kind: "Node"}
)

// storeErr maps a store error about name to a Kubernetes API error.
func storeErr(err error, gr apierr.GroupResource, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound(gr, name)
	case errors.Is(err, store.ErrAlreadyExists):
		return apierr.AlreadyExists(gr, name)
	case errors.Is(err, store.ErrConflict):
		return apierr.Conflict(gr, name, apierr.OptimisticLockErrorMsg)
	}
	return apierr.FromStore(err, gr, name)
}

// inTx runs fn in a transaction and maps a plain error to a Kubernetes error.
func inTx(ctx context.Context, db *store.DB, gr apierr.GroupResource, name string, fn func(tx pgx.Tx) error) error {
	return storeErr(db.InTx(ctx, fn), gr, name)
}

// writeTx is inTx for a write that may be a dry run: a dry run's transaction
// rolls back after fn, so the caller answers what fn computed (validated,
// defaulted, its allocations tried) and nothing is stored or published.
func writeTx(ctx context.Context, db *store.DB, gr apierr.GroupResource, name string, dryRun bool, fn func(tx pgx.Tx) error) error {
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return storeErr(err, gr, name)
}

func isDryRun(dryRun []string) bool {
	for _, d := range dryRun {
		if d == "All" {
			return true
		}
	}
	return false
}

func preconditions(opts *corev1.DeleteOptions, gr apierr.GroupResource, m *corev1.ObjectMeta) error {
	pre := opts.GetPreconditions()
	if pre == nil {
		return nil
	}
	if pre.Uid != nil && pre.GetUid() != m.GetUid() {
		return apierr.Conflict(gr, m.GetName(), fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", pre.GetUid(), m.GetUid()))
	}
	if pre.ResourceVersion != nil && pre.GetResourceVersion() != m.GetResourceVersion() {
		return apierr.Conflict(gr, m.GetName(), fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", pre.GetResourceVersion(), m.GetResourceVersion()))
	}
	return nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// PodResource is the generic read side (get, list with selectors, watch) of pods.
func PodResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*corev1.Pod] {
	return &crud.Resource[*corev1.Pod]{
		Kind: repo.Pods, APIVersion: "v1", KindName: "Pod", GR: podsGR, GK: podGK, Namespaced: true,
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(p *corev1.Pod) (*string, *string) { return &p.ApiVersion, &p.Kind },
		Fields: func(p *corev1.Pod) map[string]string {
			return map[string]string{
				"spec.nodeName":            p.GetSpec().GetNodeName(),
				"spec.restartPolicy":       p.GetSpec().GetRestartPolicy(),
				"spec.schedulerName":       p.GetSpec().GetSchedulerName(),
				"spec.serviceAccountName":  p.GetSpec().GetServiceAccountName(),
				"spec.hostNetwork":         boolString(p.GetSpec().GetHostNetwork()),
				"status.phase":             p.GetStatus().GetPhase(),
				"status.podIP":             p.GetStatus().GetPodIp(),
				"status.nominatedNodeName": p.GetStatus().GetNominatedNodeName(),
			}
		},
	}
}

// NodeResource is the generic read side of nodes.
func NodeResource(db *store.DB, hub *watch.Hub, now func() time.Time) *crud.Resource[*nodev1.Node] {
	return &crud.Resource[*nodev1.Node]{
		Kind: repo.Nodes, APIVersion: "v1", KindName: "Node", GR: nodesGR, GK: nodeGK,
		DB: db, Hub: hub, Now: now,
		TypeMeta: func(n *nodev1.Node) (*string, *string) { return &n.ApiVersion, &n.Kind },
		Fields: func(n *nodev1.Node) map[string]string {
			return map[string]string{"spec.unschedulable": boolString(n.GetSpec().GetUnschedulable())}
		},
	}
}

// Deps are what the handlers need.
type Deps struct {
	DB    *store.DB
	Hub   *watch.Hub
	Clock clock.Clock
}

func (d Deps) now() time.Time { return d.Clock.Now() }
