// Package controller holds the core service's controllers: the service-account
// controller of kube-controller-manager (every namespace gets a ServiceAccount
// named "default").
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podwarden/podwarden/shared/apierr"
	"github.com/podwarden/podwarden/shared/controller"
	"github.com/podwarden/podwarden/shared/crud"
	"github.com/podwarden/podwarden/shared/store"

	corev1 "github.com/podwarden/podwarden/proto/gen/go/podwarden/core/v1"
)

// DefaultServiceAccountName is the ServiceAccount every namespace has.
const DefaultServiceAccountName = "default"

// BuiltinNamespaces exist from the start (the gateway's namespace list has them too).
var BuiltinNamespaces = []string{"default", "kube-system"}

// ServiceAccounts is the service-account controller: for each namespace in use
// (a built-in one, or one the core service stores an object in) it makes sure a
// ServiceAccount "default" exists, and makes it again when it is deleted, as
// kube-controller-manager's serviceaccount-controller does. Its key is a namespace.
type ServiceAccounts struct {
	db   *store.DB
	sa   *crud.Resource[*corev1.ServiceAccount]
	loop *controller.Controller
	log  *slog.Logger
}

// NewServiceAccounts returns the controller; sa serves the ServiceAccounts it
// reads and creates (with their defaults and validation).
func NewServiceAccounts(db *store.DB, sa *crud.Resource[*corev1.ServiceAccount], log *slog.Logger, workers int, resync time.Duration) *ServiceAccounts {
	c := &ServiceAccounts{db: db, sa: sa, log: log}
	c.loop = controller.New(controller.Config{Name: "serviceaccount", Workers: workers, Sync: c.sync,
		List: c.namespaces, Resync: resync, Log: log})
	return c
}

// OnObject routes a stored change ("Kind/namespace/name") to its namespace: a
// first object in a namespace puts it in use, a deleted default comes back.
func (c *ServiceAccounts) OnObject(payload string) {
	if ns, ok := NamespaceOf(payload); ok {
		c.loop.Enqueue(ns)
	}
}

// Run runs the loop until ctx ends (one leadership term).
func (c *ServiceAccounts) Run(ctx context.Context) { c.loop.Run(ctx) }

// NamespaceOf reads the namespace of a change notification ("Kind/namespace/name");
// cluster-scoped objects (empty namespace) have none.
func NamespaceOf(payload string) (string, bool) {
	parts := strings.SplitN(payload, "/", 3)
	if len(parts) != 3 || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

// NamespacesInUse is the built-in namespaces and those of stored objects, sorted, once each.
func NamespacesInUse(builtin, stored []string) []string {
	out := slices.Concat(builtin, stored)
	out = slices.DeleteFunc(out, func(ns string) bool { return ns == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// DefaultServiceAccount is the ServiceAccount the controller creates in ns.
func DefaultServiceAccount(ns string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ApiVersion: "v1", Kind: "ServiceAccount",
		Metadata: &corev1.ObjectMeta{Name: DefaultServiceAccountName, Namespace: ns}}
}

// namespaces lists the namespaces in use, for resyncs.
func (c *ServiceAccounts) namespaces(ctx context.Context) ([]string, error) {
	rows, err := c.db.Pool.Query(ctx, "SELECT DISTINCT namespace FROM objects")
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	return NamespacesInUse(BuiltinNamespaces, stored), nil
}

// sync makes sure namespace ns has its default ServiceAccount.
func (c *ServiceAccounts) sync(ctx context.Context, ns string) error {
	_, err := c.sa.Get(ctx, ns, DefaultServiceAccountName)
	if err == nil {
		return nil
	}
	if !apierr.IsNotFound(err) {
		return fmt.Errorf("get serviceaccount %s/%s: %w", ns, DefaultServiceAccountName, err)
	}
	if _, err := c.sa.Create(ctx, ns, DefaultServiceAccount(ns), nil); err != nil && !apierr.IsAlreadyExists(err) {
		return fmt.Errorf("create serviceaccount %s/%s: %w", ns, DefaultServiceAccountName, err)
	}
	c.log.Debug("created default serviceaccount", "namespace", ns)
	return nil
}
